#!/usr/bin/env bash
# Every GPU measurement the issues ask for, as one script, so that the few minutes of a lent
# GPU go to measuring, not to setting up. Run in the repository root on the GPU machine:
#
#   bash bench/gpu.sh prepare                  # here: copy the data into .gpu-data (ignored)
#   OUT=/some/dir bash bench/gpu.sh table      # there: the space table, both datasets
#   OUT=/some/dir bash bench/gpu.sh ranking    # there: every ranking signal against it
#   OUT=/some/dir bash bench/gpu.sh engine     # there: search-step throughput (bench/engine.py)
#   OUT=/some/dir bash bench/gpu.sh quality    # there: bench/quality.py --profile gpu, 1 seed
#   OUT=/some/dir bash bench/gpu.sh all        # there: table, ranking, engine, quality
#
# What each step measures, and the aim the issues set:
# - table: bench/space_table.py on CUDA, 4 trainings at once: the ground-truth table of the
#   search-payoff issue (80 trainings a dataset: 60 architectures, 20 of them with 2 seeds);
#   minutes on a GPU against ~4 CPU-hours. Written to $OUT/<dataset>.json: copy it to
#   bench/tables/ (a CPU build of the same table resumes from it).
# - ranking: bench/ranking.py against those tables: the cheap signals, then the shared weights
#   as the product trains them (controller sampling), with uniform and FairNAS sampling, with
#   per-node weights, and one-shot against few-shot, at the demo and quick search budgets;
#   $OUT/ranking-<dataset>.json (the tau table of bench/README.md).
# - engine: images per second of a search step at batch 128, no host-device sync in the step
#   (aim >= 15,000 img/s on an H100); $OUT/engine-cuda.json.
# - quality: the product end to end on full Fashion-MNIST (quick search, the paper-style final
#   network for 100 epochs; aim >= 95.5 % test accuracy), enas against random search with
#   weight sharing, seed 0; $OUT/quality-gpu.json. The longest step: run it last.
# The machine there has python3 with torch, numpy, scipy and tqdm; enas_core needs no more.
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:-all}
DATA=${DATA_DIR:-.gpu-data}
OUT=${OUT:-bench/results/gpu}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

if [[ $step == prepare ]]; then
    mkdir -p .gpu-data
    grep -qx '/.gpu-data/' .git/info/exclude 2>/dev/null || echo '/.gpu-data/' >> .git/info/exclude
    cp -r ../shared/data/fashion-mnist ../shared/data/mnist-10k.npz .gpu-data/
    du -sh .gpu-data
    exit 0
fi

mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

run_table() {
    for dataset in fashion-mnist digits; do
        $PY bench/space_table.py --dataset "$dataset" --device cuda --jobs 4 \
            --data-dir "$DATA" --out "$OUT/$dataset.json"
    done
}
run_ranking() {
    for dataset in fashion-mnist digits; do
        local rank=($PY bench/ranking.py --dataset "$dataset" --device cuda --data-dir "$DATA"
                    --table "$OUT/$dataset.json" --out "$OUT/ranking-$dataset.json")
        "${rank[@]}" --signal seed1,params,flops,epoch1,epoch2,epoch3,train1,sota2
        "${rank[@]}" --signal naswot,synflow,jacob_cov
        for preset in demo quick; do
            "${rank[@]}" --preset $preset --signal shared,oneshot,fewshot
            "${rank[@]}" --preset $preset --signal shared --option shared_sampling=fair
            "${rank[@]}" --preset $preset --signal shared --option shared_sampling=uniform
            "${rank[@]}" --preset $preset --signal shared --option sharing=node
        done
    done
}
run_engine() {
    $PY bench/engine.py --device cuda --data-dir "$DATA" --out "$OUT/engine-cuda.json"
}
run_quality() {
    $PY bench/quality.py --profile gpu --seeds 0 --arms enas,random --jobs 1 \
        --data-dir "$DATA" --out "$OUT/quality-gpu.json"
}

case $step in
    table) run_table ;;
    ranking) run_ranking ;;
    engine) run_engine ;;
    quality) run_quality ;;
    all) run_table; run_ranking; run_engine; run_quality ;;
    *) echo "usage: bench/gpu.sh prepare|table|ranking|engine|quality|all" >&2; exit 2 ;;
esac
