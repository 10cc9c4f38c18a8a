"""Write enas_client/job_schema.json from the service's OpenAPI document.

Run after changing the API's job options (tests/client/test_schema.py fails until then):

    python clients/python/update_schema.py            # from the repository root
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]


def main() -> int:
    from api.main import create_app
    from enas_client.options import SCHEMA_FILE, schema_from_openapi

    schema = schema_from_openapi(create_app().openapi())
    target = HERE / "enas_client" / SCHEMA_FILE
    target.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {target.relative_to(HERE.parents[1])}: {len(schema['properties'])} options")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
