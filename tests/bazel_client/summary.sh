# Reading Bazel's closing "INFO: N processes: ..." line (sourced by the client checks).
summary_of() { grep -E "^INFO: [0-9]+ processes" "$1" | tail -1; }
# count SUMMARY KINDS: the sum of the counts of those kinds of process (a regex) in SUMMARY.
count() { echo "$1" | grep -oE "[0-9]+ ($2)[,.]" | grep -oE "^[0-9]+" | paste -sd+ | bc || true; }
