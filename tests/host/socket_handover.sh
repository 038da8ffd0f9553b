#!/usr/bin/env bash
# Two host stand-ins, one after the other, on the same guest socket path (as
# a test that restarts its host, or a user who restarts it, does): the first
# one exiting late must not remove the second one's socket file.
. "$(dirname "$0")/../e2e/lib.sh"
vr_start_host
first=$HOST_PID
first_ino=$(stat -c %i "$HOST_SOCK")
rm -f "$VR_TMP/host.out"
vr_start_host
second_ino=$(stat -c %i "$HOST_SOCK")
[ "$first_ino" != "$second_ino" ] || vr_fail "the second host did not make its own socket"
kill "$first"
wait "$first" || vr_fail "the first host did not exit cleanly"
[ -S "$HOST_SOCK" ] || vr_fail "the first host removed the second one's socket on exit"
[ "$(stat -c %i "$HOST_SOCK")" = "$second_ino" ] || vr_fail "the socket file changed"
kill "$HOST_PID"
wait "$HOST_PID" || vr_fail "the second host did not exit cleanly"
[ ! -e "$HOST_SOCK" ] || vr_fail "the second host left its socket file behind"
echo "socket-handover: the first host left the second one's socket (inode $second_ino) alone; the second removed its own"
