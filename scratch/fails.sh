#!/bin/bash
# Usage: T=300 bash scratch/fails.sh <test files>: compact failures
cd /work/main
timeout ${T:-300} npx tap --disable-coverage --reporter=tap "$@" 2>&1 | grep -E "^\s*not ok|^\s+(found|wanted|at|stack|message|diff|\+|\-)|# (pass|fail)|Error|error" | head -${N:-80}
