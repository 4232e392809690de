#!/bin/sh
# expect.sh CODE PATTERN COMMAND...
# Runs COMMAND; passes when it exits with CODE and its output (stdout and
# stderr) matches the extended regular expression PATTERN.
want=$1
pattern=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne "$want" ]; then
    echo "expect.sh: exit code $rc, wanted $want"
    exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
    echo "expect.sh: output does not match: $pattern"
    exit 1
fi
