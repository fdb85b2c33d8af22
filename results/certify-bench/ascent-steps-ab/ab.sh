out=$1; shift
for pattern in "$@"; do for mod in k_proj v_proj q_proj gate_proj o_proj up_proj down_proj; do
  for code in /tmp/wt-hour /work/main; do OPENBLAS_NUM_THREADS=1 /work/main/.venv/bin/python ./ab1.py $code $pattern $mod >> $out; done
done; done
