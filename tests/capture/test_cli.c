/*
 * videoredir-capture, the real program, against a unix socket server that
 * plays host and client at once (a vr_conn speaking the client's side). Checks
 * exit codes and messages, and that the access units that cross the socket
 * are exactly FFmpeg's packets (framemd5 -c copy).
 * Usage: test_capture_cli CAPTURE_BIN CLIP SCENARIO
 *   SCENARIO: accept | realtime | loop | reject | reconnect | errors
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavutil/md5.h>

#include <videoredir/protocol.h>
#include <videoredir/transport.h>

#include "../check.h"

#define MAX_FRAMES 4096

struct server {
    const char *scenario;
    struct vr_conn *conn;
    bool said_hello, got_start, got_stop;
    uint32_t stop_reason;
    uint16_t codec;
    uint32_t start_flags;
    size_t n_frames;
    char md5[MAX_FRAMES][33];
    uint32_t first_flags;
    uint32_t gaps;
    unsigned since_feedback;
    bool guest_hello;
};

static char tmpdir[256];
static char sock_path[300];
static char log_path[300];

static void md5_hex(const uint8_t *data, size_t len, char out[33])
{
    uint8_t d[16];
    av_md5_sum(d, data, len);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void send_feedback(struct server *s)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(s->conn, &st);
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FEEDBACK;
    m.stream_id = 1;
    m.u.feedback.bytes_received = st.bytes_in;
    m.u.feedback.last_seq = s->n_frames ? (uint32_t)s->n_frames - 1 : 0;
    m.u.feedback.decoded = (uint32_t)s->n_frames;
    vr_conn_send(s->conn, &m);
    s->since_feedback = 0;
}

static void send_hello(struct server *s, uint8_t flags)
{
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello.version_min = VR_PROTO_VERSION_MIN;
    m.u.hello.version_max = VR_PROTO_VERSION_MAX;
    m.u.hello.role = VR_ROLE_CLIENT;
    m.u.hello.flags = flags;
    m.u.hello.features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK;
    m.u.hello.max_streams = 1;
    m.u.hello.n_codecs = 5;
    for (int i = 0; i < 5; i++)
        m.u.hello.codecs[i] = (struct vr_codec_cap){ (uint16_t)(VR_CODEC_H264 + i), 0, 4096, 4096 };
    snprintf(m.u.hello.software, sizeof(m.u.hello.software), "test-cli-server");
    vr_conn_send(s->conn, &m);
    s->said_hello = true;
}

static void on_message(void *user, const struct vr_msg *msg)
{
    struct server *s = user;
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    switch (msg->type) {
    case VR_MSG_HELLO:
        s->guest_hello = true;
        if (!strcmp(s->scenario, "silent"))
            break;
        if (!(msg->u.hello.flags & VR_HELLO_REPLY))
            send_hello(s, VR_HELLO_REPLY);
        break;
    case VR_MSG_PING:
        m.type = VR_MSG_PONG;
        m.u.pong.id = msg->u.ping.id;
        m.u.pong.ping_time_us = msg->u.ping.time_us;
        m.u.pong.time_us = vr_time_us();
        vr_conn_send(s->conn, &m);
        break;
    case VR_MSG_STREAM_START:
        s->got_start = true;
        s->codec = msg->u.start.codec;
        s->start_flags = msg->u.start.flags;
        m.stream_id = msg->stream_id;
        if (!strcmp(s->scenario, "reject")) {
            m.type = VR_MSG_REJECT;
            m.u.reject.reason = VR_REASON_UNSUPPORTED;
            snprintf(m.u.reject.message, sizeof(m.u.reject.message), "test says no");
        } else {
            m.type = VR_MSG_ACCEPT;
            snprintf(m.u.accept.decoder, sizeof(m.u.accept.decoder), "test");
        }
        vr_conn_send(s->conn, &m);
        break;
    case VR_MSG_FRAME:
        if (s->n_frames == 0)
            s->first_flags = msg->u.frame.flags;
        if (s->n_frames < MAX_FRAMES)
            md5_hex(msg->u.frame.data, msg->u.frame.data_len, s->md5[s->n_frames]);
        s->n_frames++;
        if (++s->since_feedback >= 8)
            send_feedback(s);
        break;
    case VR_MSG_STREAM_STOP:
        s->got_stop = true;
        s->stop_reason = msg->u.stop.reason;
        send_feedback(s);
        break;
    default:
        break;
    }
}

static void on_gap(void *user, uint32_t stream_id, uint32_t missing)
{
    ((struct server *)user)->gaps += missing;
}

static pid_t spawn(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid, int secs)
{
    for (int i = 0; i < secs * 100; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static bool log_contains(const char *needle)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return false;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void dump_log(void)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char line[1024];
    fprintf(stderr, "--- capture output:\n");
    while (fgets(line, sizeof(line), f))
        fprintf(stderr, "  %s", line);
    fclose(f);
}

static int listen_socket(void)
{
    unlink(sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (strlen(sock_path) >= sizeof(a.sun_path)) {
        fprintf(stderr, "socket path too long: %s\n", sock_path);
        exit(2);
    }
    memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0) {
        perror("listen");
        exit(2);
    }
    return fd;
}

/* Serves one guest connection until it closes or secs pass. */
static void serve(struct server *s, int lfd, int secs)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        perror("accept");
        vr_failures++;
        return;
    }
    struct vr_conn_callbacks cb = { .on_message = on_message, .on_gap = on_gap };
    vr_conn_destroy(s->conn);
    s->conn = NULL;
    CHECK(vr_conn_create(NULL, &cb, s, &s->conn) == 0, "conn");
    /* The client says hello when its channel opens. */
    if (strcmp(s->scenario, "silent") != 0)
        send_hello(s, 0);
    uint64_t end = vr_time_us() + (uint64_t)secs * 1000000u;
    while (vr_time_us() < end) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (vr_conn_out_queued(s->conn))
            p.events |= POLLOUT;
        poll(&p, 1, 50);
        int r = vr_fd_read(s->conn, fd);
        while (r == 0)
            r = vr_fd_read(s->conn, fd);
        if (r == -EPIPE)
            break;
        vr_fd_flush(s->conn, fd);
    }
    close(fd);
}

static void load_framemd5(const char *clip, char (*md5)[33], size_t *n)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -i '%s' -map 0:v:0 -c copy -f framemd5 -", clip);
    FILE *f = popen(cmd, "r");
    char line[1024];
    *n = 0;
    while (f && fgets(line, sizeof(line), f)) {
        if (line[0] == '#')
            continue;
        if (*n < MAX_FRAMES && sscanf(line, "%*d, %*d, %*d, %*d, %*d, %32[0-9a-f]", md5[*n]) == 1)
            (*n)++;
    }
    if (f)
        pclose(f);
}

static void run_stream(const char *bin, const char *clip, const char *scenario)
{
    static struct server s;
    memset(&s, 0, sizeof(s));
    s.scenario = scenario;
    bool realtime = !strcmp(scenario, "realtime");
    bool loop = !strcmp(scenario, "loop");
    int lfd = listen_socket();
    char *argv[] = { (char *)bin, "--device", sock_path, "--pace", realtime ? "realtime" : "none",
                     "--window", "100,80,640,360", "--connect-timeout", "20", "--loop", loop ? "1" : "0",
                     (char *)clip, NULL };
    uint64_t t0 = vr_time_us();
    pid_t pid = spawn(argv);
    if (!strcmp(scenario, "reconnect")) {
        /* The host side goes away once before anything is said. */
        int fd = accept(lfd, NULL, NULL);
        close(fd);
    }
    serve(&s, lfd, 60);
    int code = wait_exit(pid, 10);
    double secs = (double)(vr_time_us() - t0) / 1e6;
    close(lfd);

    static char want[MAX_FRAMES][33];
    size_t n_want;
    load_framemd5(clip, want, &n_want);
    if (!strcmp(scenario, "reject")) {
        CHECK(code == 3, "exit code %d, want 3", code);
        CHECK(log_contains("test says no"), "client's reason not printed");
        CHECK(s.n_frames == 0, "%zu frames after reject", s.n_frames);
    } else {
        CHECK(code == 0, "exit code %d", code);
        CHECK(s.got_start && s.got_stop && s.stop_reason == VR_REASON_EOS, "start %d stop %d reason %u",
              s.got_start, s.got_stop, s.stop_reason);
        /* --loop 1: the clip twice, as one stream. */
        size_t passes = loop ? 2 : 1;
        CHECK(s.n_frames == passes * n_want, "%zu frames over the socket, ffmpeg has %zu x %zu", s.n_frames,
              passes, n_want);
        CHECK(s.first_flags & VR_FRAME_KEY, "first frame not key");
        CHECK(s.gaps == 0, "%u frames lost", s.gaps);
        size_t bad = 0;
        for (size_t i = 0; n_want && i < s.n_frames && i < passes * n_want; i++)
            bad += strcmp(s.md5[i], want[i % n_want]) != 0;
        CHECK(bad == 0, "%zu frames differ from ffmpeg's packets", bad);
        char summary[64];
        snprintf(summary, sizeof(summary), " %zu frames, ", passes * n_want);
        CHECK(log_contains(summary), "no summary line with%s", summary);
        if (realtime)
            CHECK(secs > 2.7, "realtime pacing took only %.2f s for a 3 s clip", secs);
    }
    if (vr_failures || getenv("VR_TEST_VERBOSE"))
        dump_log();
    printf("%s %s: exit %d, %zu frames (ffmpeg %zu), %.2f s\n", scenario, clip, code, s.n_frames, n_want, secs);
    vr_conn_destroy(s.conn);
}

static void run_errors(const char *bin, const char *clip)
{
    /* No client ever answers: exit 4 after the timeout. */
    static struct server s;
    memset(&s, 0, sizeof(s));
    s.scenario = "silent";
    int lfd = listen_socket();
    char *argv1[] = { (char *)bin, "--device", sock_path, "--connect-timeout", "1", (char *)clip, NULL };
    uint64_t t0 = vr_time_us();
    pid_t pid = spawn(argv1);
    serve(&s, lfd, 3);
    int code = wait_exit(pid, 10);
    CHECK(code == 4, "silent client: exit %d, want 4", code);
    CHECK(s.guest_hello, "guest did not say hello");
    CHECK(!s.got_start, "stream announced without a client hello");
    CHECK(vr_time_us() - t0 >= 900000, "gave up too early");
    CHECK(log_contains("no client"), "no 'no client' message");
    close(lfd);
    if (vr_failures)
        dump_log();

    /* Missing file. */
    char *argv2[] = { (char *)bin, "--device", sock_path, "/nonexistent/clip.mp4", NULL };
    code = wait_exit(spawn(argv2), 10);
    CHECK(code == 1 && log_contains("/nonexistent/clip.mp4"), "missing file: exit %d", code);

    /* Device that cannot exist. */
    char *argv3[] = { (char *)bin, "--device", "/nonexistent/port", (char *)clip, NULL };
    code = wait_exit(spawn(argv3), 10);
    CHECK(code == 2 && log_contains("/nonexistent/port"), "bad device: exit %d", code);

    /* Bad options. */
    char *argv4[] = { (char *)bin, "--window", "1,2,3", (char *)clip, NULL };
    code = wait_exit(spawn(argv4), 10);
    CHECK(code == 1 && log_contains("--window"), "bad window: exit %d", code);
    char *argv5[] = { (char *)bin, "--help", NULL };
    code = wait_exit(spawn(argv5), 10);
    CHECK(code == 0 && log_contains("Usage: videoredir-capture"), "help: exit %d", code);
    if (vr_failures)
        dump_log();
    printf("errors: no client -> 4, missing file -> 1, bad device -> 2, bad option -> 1, --help -> 0\n");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s CAPTURE_BIN CLIP SCENARIO\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/vr-cli-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(sock_path, sizeof(sock_path), "%s/guest.sock", tmpdir);
    snprintf(log_path, sizeof(log_path), "%s/capture.log", tmpdir);
    if (!strcmp(argv[3], "errors"))
        run_errors(argv[1], argv[2]);
    else
        run_stream(argv[1], argv[2], argv[3]);
    unlink(sock_path);
    unlink(log_path);
    rmdir(tmpdir);
    if (vr_failures)
        fprintf(stderr, "%d check(s) failed\n", vr_failures);
    return vr_failures ? 1 : 0;
}
