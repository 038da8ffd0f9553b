#!/usr/bin/env bash
# Runs vr-sink-teardown (see sink_teardown.c) under an Xvfb of its own.
# Usage: sink_teardown.sh PROGRAM CYCLES ready|null
. "$(dirname "$0")/../e2e/lib.sh"
vr_start_xvfb 800x600x24
"$1" "$2" "$3"
