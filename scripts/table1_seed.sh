#!/bin/bash
# Table 1, one start seed: every row, resumable (finished stages are skipped, stopped ones resumed).
# usage: scripts/table1_seed.sh SEED, run where data/ is. MSGAN: the msgan command (default
# msgan). OWN: the steps of each row's own loss after the 500-step warm-up (default 1000; the
# fine-tuned rows start from l2 at OWN/2). ONLY: run just these stages, e.g. ONLY=unrolled
# beside a running driver once its inputs exist, so that two cores share a seed.
# Writes runs/table1/seedS/<stage>, table1/weights-seedS/<row>.safetensors and
# table1/cpu-seedS.csv; with another OWN, runs/table1-ownN/..., table1/weights-ownN-seedS and
# table1/cpu-ownN-seedS.csv.
set -euo pipefail
s=${1:?usage: scripts/table1_seed.sh SEED}; M=${MSGAN:-msgan}; own=${OWN:-1000}; half=$((own / 2))
tag=$([ "$own" = 1000 ] || echo "-own$own")
R=runs/table1$tag/seed$s; W=table1/weights$tag-seed$s; CPU=table1/cpu$tag-seed$s.csv
C=data/clips-f8
mkdir -p table1
T="$M train -d $C --preset small --residual-on-last-input --batch-size 32 --threads 1 \
   --checkpoint-every 100 --keep $((own / 100 + 20)) --sample-every 0 --log-every 10 --val-clips 256 --val-every 50"
N="$T --no-adversarial"
D="$T --adversarial --d-design patch --d-patch-width 32 --d-sees-change --lr-d 2e-4 --lambda-adv 0.003"
ck() { printf "%s/checkpoints/step_%07d.pt" "$1" "$2"; }
# stage OUT STEPS CMD...: skip if its last checkpoint exists, resume if it has started
stage() {
  local out=$1 steps=$2; shift 2
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $(basename $out) "* ]]; then return; fi
  if [ -f "$(ck $out $steps)" ]; then echo "done: $out"; return; fi
  local t0=$(date +%s)
  if ls $out/checkpoints/step_*.pt >/dev/null 2>&1; then
    $M train -r --out $out -d $C --steps $steps --threads 1
  else
    "$@" --out $out
  fi
  echo "$(basename $out),$s,$(( $(date +%s) - t0 ))" >> $CPU
}
stage $R/warm 500 $N --seed $s --lp 2 --lambda-gdl 0 --lr-g 1e-3 --lr-g-final 1e-3 --steps 500
stage $R/warm-single 500 $N --seed $s --lp 2 --lambda-gdl 0 --lr-g 1e-3 --lr-g-final 1e-3 --steps 500 --single-scale
S="--seed $s --lr-g 1e-3 --lr-g-final 1e-4 --steps $own"
stage $R/l2 $own $N $S --lp 2 --lambda-gdl 0   -l $(ck $R/warm 500)
stage $R/l1 $own $N $S --lp 1 --lambda-gdl 0   -l $(ck $R/warm 500)
stage $R/gdl-l1 $own $N $S --lp 1 --lambda-gdl 0.1 -l $(ck $R/warm 500)
stage $R/single-l2 $own $N $S --lp 2 --lambda-gdl 0 --single-scale -l $(ck $R/warm-single 500)
H="--seed $s --lr-g 3.1623e-4 --lr-g-final 1e-4 --steps $half"
stage $R/adv $half $D $H --lp 2 --lambda-gdl 0 -l $(ck $R/l2 $half)
stage $R/gdl-l2-base $half $N --seed $s --lr-g 1e-3 --lr-g-final 3.1623e-4 --steps $half --lp 2 --lambda-gdl 0.1 -l $(ck $R/warm 500)
stage $R/adv-gdl $half $D $H --lp 2 --lambda-gdl 0.1 -l $(ck $R/gdl-l2-base $half)
stage $R/unrolled $half $N $H --lp 2 --lambda-gdl 0 --unroll 4 -l $(ck $R/l2 $half)
[ -n "${ONLY:-}" ] && { echo "seed $s: $ONLY finished"; exit; }
mkdir -p $W
for row in single-l2 l2 l1 gdl-l1 adv adv-gdl unrolled; do $M export $R/$row $W/$row.safetensors; done
echo "seed $s finished"
