# Reading Bazel's closing "INFO: N processes: ..." line (sourced by the client checks).
summary_of() { grep -E "^INFO: [0-9]+ processes" "$1" | tail -1; }
# count SUMMARY KINDS: the sum of the counts of those kinds of process (a regex) in SUMMARY.
count() { echo "$1" | grep -oE "[0-9]+ ($2)[,.]" | grep -oE "^[0-9]+" | paste -sd+ | bc || true; }
# expect_processes LOG KINDS NOT_KINDS: prints how many processes of KINDS LOG's summary counts;
# fails, saying what it saw, unless that is at least 4 and no process is of NOT_KINDS.
expect_processes() {
  local summary n others
  summary=$(summary_of "$1")
  n=$(count "$summary" "$2")
  others=$(count "$summary" "$3")
  if [ "${n:-0}" -lt 4 ] || [ "${others:-0}" -ne 0 ]; then
    echo "expected at least 4 processes of \"$2\" and none of \"$3\" in $1; got: $summary" >&2
    return 1
  fi
  echo "$n"
}
