#!/bin/sh
# One line per fuzz run, from libFuzzer's log: executions, executions
# per second, coverage (edges, features), corpus, peak RSS, and whether
# it crashed. Usage: summary.sh <target> <log>
t=$1
log=$2
[ -r "$log" ] || { echo "$t: no log"; exit 0; }
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corp=$(echo "$last" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
if grep -qE '^==[0-9]+==ERROR|deadly signal|Test unit written to|^SUMMARY: ' \
    "$log"; then
	result="CRASHED ($(grep -m1 -E 'Test unit written to' "$log" |
	    sed 's/.*written to //'))"
else
	result="no crash"
fi
printf '%-9s execs %-10s exec/s %-7s cov %-5s ft %-6s corpus %-12s rss %sMB  %s\n' \
    "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "${rss:-?}" "$result"
