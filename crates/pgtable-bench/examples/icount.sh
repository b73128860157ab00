#!/usr/bin/env bash
# Instruction counts of the hot paths (README, "Instruction counts"):
#   bash crates/pgtable-bench/examples/icount.sh
# Needs valgrind (apt-get install -y valgrind). Each count is callgrind's
# total with collection switched on inside one function of
# examples/icount.rs only (--toggle-collect), divided by the work it did.
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo build -q --profile bench-fair -p pgtable-bench --example icount
bin=target/bench-fair/examples/icount
pages=16384 spaces=10000
ir() { # mode function -> instructions executed inside the function
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    --toggle-collect="icount::$2*" "$bin" "$1" 2>&1 >/dev/null |
    sed -n 's/.*I *refs: *//p' | tr -d ,
}
per() { awk -v a="$1" -v n="$2" 'BEGIN { if (a == 0) print "–"; else printf "%.1f", a / n }'; }
for size in 4k 2m; do
  if [ $size = 4k ]; then
    n=$pages
    echo "Instructions per 4 KiB page, mapping then unmapping $pages pages (map / unmap):"
  else
    n=512
    echo
    echo "Instructions per 2 MiB leaf, mapping then unmapping 512 leaves (map / unmap):"
  fi
  echo
  echo '| mode | ours: vmap_range / vunmap_range | x86_64: map_to / unmap | aarch64-paging: map_range / map_range(invalid) | page_table_multiarch: map_region / unmap_region |'
  echo '|---|---|---|---|---|'
  for mode in x86-64 arm64 sv39; do
    row="| $mode"
    for side in "" x86_64_ aarch64_paging_ multiarch_; do
      set -- "${side}map_$size" "${side}unmap_$size"
      m=$(ir "$mode" "$1") u=$(ir "$mode" "$2")
      if [ "$m" = 0 ]; then row="$row | –"; else row="$row | $(per "$m" $n) / $(per "$u" $n)"; fi
    done
    echo "$row |"
  done
done
echo
echo "The sync of a new top-level kernel entry into $spaces registered roots (x86-64 4-level):"
echo
eager=$(ir x86-64 populate_eager) pre=$(ir x86-64 populate_preallocated) loop=$(ir x86-64 store_loop)
echo '| eager populate | preallocated populate | sync per space ((eager − preallocated) ÷ N) | store loop per root |'
echo '|---|---|---|---|'
echo "| $eager | $pre | $(per $((eager - pre)) $spaces) | $(per "$loop" $spaces) |"
echo
echo "Address-space churn, $spaces spaces (x86-64 4-level), instructions per space:"
echo
create=$(ir x86-64 create_spaces) destroy=$(ir x86-64 destroy_spaces)
echo '| create_space | destroy_space |'
echo '|---|---|'
echo "| $(per "$create" $spaces) | $(per "$destroy" $spaces) |"
