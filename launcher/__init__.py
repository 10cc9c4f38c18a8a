"""Starts the service: `enas serve` (the API and a worker on one machine), `enas api`,
`enas worker`, and the admin commands (`enas db`, `enas keys`).

The one package above both `api/` and `worker/`: it may import them, and nothing imports it.
"""
