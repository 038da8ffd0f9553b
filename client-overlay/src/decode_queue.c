/*
 * A stream's decoder behind a queue, inline or on a thread (decode_queue.h).
 *
 * Jobs (access units, drain, flush) go in at the tail of a list; the
 * decoder's thread takes them one at a time, decodes without the lock and
 * appends what came out to the output list. A flush empties both lists and
 * bumps the generation: outputs of a job that was being decoded across it
 * are thrown away when they are appended. Inline, the same job runs in the
 * caller's thread at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <libavcodec/packet.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>

#include "decode_queue.h"

/* Send times of the last access units fed to the decoder, to find the one a
 * decoded frame came from (decoders reorder and delay). */
#define SENT_RING 64u

enum job_kind { JOB_UNIT, JOB_DRAIN, JOB_FLUSH };

struct job {
    struct job *next;
    enum job_kind kind;
    AVPacket *pkt; /* JOB_UNIT: the access unit, handed to the decoder as is */
    uint32_t seq;
    uint64_t send_us;
    size_t msg_bytes;
    uint32_t slow_us;
};

static void job_free(struct job *j)
{
    av_packet_free(&j->pkt);
    free(j);
}

struct out {
    struct out *next;
    struct vr_decode_out o;
};

struct outlist {
    struct out *head, *tail;
};

struct vr_decode_queue {
    struct vr_decoder *dec; /* only the decoding thread touches it */
    bool threaded;
    void (*wakeup)(void *user);
    void *user;
    /* Decoding thread's own state. */
    struct {
        int64_t pts;
        uint64_t send_us;
    } sent[SENT_RING];
    uint32_t n_sent;

    bool has_thread;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* Under lock. */
    struct job *jobs, *jobs_tail;
    struct outlist outs;
    uint32_t units;   /* JOB_UNITs waiting */
    size_t unit_bytes; /* their msg_bytes */
    uint64_t gen;
    bool quit, wake_pending;
};

static void outlist_free(struct outlist *l)
{
    while (l->head) {
        struct out *o = l->head;
        l->head = o->next;
        av_frame_free(&o->o.frame);
        free(o);
    }
    l->tail = NULL;
}

static void outlist_add(struct outlist *l, const struct vr_decode_out *o)
{
    struct out *n = malloc(sizeof(*n));
    if (!n) {
        AVFrame *f = o->frame;
        av_frame_free(&f); /* out of memory: the frame is lost */
        return;
    }
    n->next = NULL;
    n->o = *o;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static void outlist_append(struct outlist *to, struct outlist *from)
{
    if (!from->head)
        return;
    if (to->tail)
        to->tail->next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    from->head = from->tail = NULL;
}

static uint64_t send_time_of(const struct vr_decode_queue *q, const AVFrame *f)
{
    if (!q->n_sent)
        return 0;
    uint32_t n = q->n_sent < SENT_RING ? q->n_sent : SENT_RING;
    if (f->pts != AV_NOPTS_VALUE)
        for (uint32_t k = 1; k <= n; k++) {
            uint32_t i = (q->n_sent - k) % SENT_RING;
            if (q->sent[i].pts == f->pts)
                return q->sent[i].send_us;
        }
    return q->sent[(q->n_sent - 1) % SENT_RING].send_us;
}

/* Takes every frame the decoder has ready into outs. */
static void receive_all(struct vr_decode_queue *q, struct outlist *outs)
{
    const AVFrame *f;
    int ret;
    while ((ret = vr_decoder_receive(q->dec, &f)) == 0) {
        struct vr_decode_out o = { .kind = VR_DECODE_OUT_FRAME, .send_us = send_time_of(q, f) };
        o.frame = av_frame_clone(f);
        if (!o.frame) {
            o.kind = VR_DECODE_OUT_ERROR;
            o.err = AVERROR(ENOMEM);
        }
        outlist_add(outs, &o);
    }
    if (ret != -EAGAIN && ret != AVERROR_EOF)
        outlist_add(outs, &(struct vr_decode_out){ .kind = VR_DECODE_OUT_ERROR, .err = ret });
}

/* Runs one job with the decoder; its outputs go to outs. */
static void run(struct vr_decode_queue *q, struct job *j, struct outlist *outs)
{
    switch (j->kind) {
    case JOB_UNIT: {
        q->sent[q->n_sent % SENT_RING].pts = j->pkt->pts;
        q->sent[q->n_sent % SENT_RING].send_us = j->send_us;
        q->n_sent++;
        int ret = vr_decoder_send_packet(q->dec, j->pkt);
        if (ret < 0)
            outlist_add(outs, &(struct vr_decode_out){ .kind = VR_DECODE_OUT_SEND_ERROR,
                                                       .seq = j->seq, .err = ret });
        receive_all(q, outs);
        if (j->slow_us) { /* test option: a decoder slower than real time */
            struct timespec ts = { j->slow_us / 1000000u, (long)(j->slow_us % 1000000u) * 1000 };
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        }
        break;
    }
    case JOB_DRAIN:
        if (vr_decoder_drain(q->dec) == 0)
            receive_all(q, outs);
        outlist_add(outs, &(struct vr_decode_out){ .kind = VR_DECODE_OUT_DRAINED });
        break;
    case JOB_FLUSH:
        vr_decoder_flush(q->dec);
        q->n_sent = 0;
        break;
    }
}

static void *thread_main(void *data)
{
    struct vr_decode_queue *q = data;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->jobs && !q->quit)
            pthread_cond_wait(&q->cond, &q->lock);
        if (q->quit)
            break;
        struct job *j = q->jobs;
        q->jobs = j->next;
        if (!q->jobs)
            q->jobs_tail = NULL;
        uint64_t gen = q->gen;
        pthread_mutex_unlock(&q->lock);

        struct outlist outs = { 0 };
        run(q, j, &outs);

        pthread_mutex_lock(&q->lock);
        if (j->kind == JOB_UNIT) {
            q->units--;
            q->unit_bytes -= j->msg_bytes;
        }
        job_free(j);
        bool wake = false;
        if (gen != q->gen) {
            outlist_free(&outs); /* flushed meanwhile */
        } else if (outs.head) {
            outlist_append(&q->outs, &outs);
            wake = !q->wake_pending;
            q->wake_pending = true;
        }
        if (wake && q->wakeup) {
            pthread_mutex_unlock(&q->lock);
            q->wakeup(q->user);
            pthread_mutex_lock(&q->lock);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int vr_decode_queue_create(struct vr_decoder *dec, bool threaded, void (*wakeup)(void *user),
                           void *user, struct vr_decode_queue **out)
{
    struct vr_decode_queue *q = calloc(1, sizeof(*q));
    if (!q) {
        vr_decoder_close(dec);
        return -ENOMEM;
    }
    q->dec = dec;
    q->threaded = threaded;
    q->wakeup = wakeup;
    q->user = user;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    if (threaded) {
        int err = pthread_create(&q->thread, NULL, thread_main, q);
        if (err) {
            vr_decode_queue_destroy(q);
            return -err;
        }
        q->has_thread = true;
    }
    *out = q;
    return 0;
}

/* Drops the jobs not started. The one being run, if any, stays counted in
 * units and unit_bytes until its thread is done with it. */
static void jobs_free(struct vr_decode_queue *q)
{
    while (q->jobs) {
        struct job *j = q->jobs;
        q->jobs = j->next;
        if (j->kind == JOB_UNIT) {
            q->units--;
            q->unit_bytes -= j->msg_bytes;
        }
        job_free(j);
    }
    q->jobs_tail = NULL;
}

void vr_decode_queue_destroy(struct vr_decode_queue *q)
{
    if (!q)
        return;
    if (q->has_thread) {
        pthread_mutex_lock(&q->lock);
        q->quit = true;
        jobs_free(q);
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->thread, NULL);
    }
    jobs_free(q);
    outlist_free(&q->outs);
    vr_decoder_close(q->dec);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* Inline: runs j now. Threaded: queues it (at the head if first). */
static void submit(struct vr_decode_queue *q, struct job *j, bool first)
{
    if (!q->threaded) {
        struct outlist outs = { 0 };
        run(q, j, &outs);
        job_free(j);
        outlist_append(&q->outs, &outs);
        return;
    }
    pthread_mutex_lock(&q->lock);
    if (j->kind == JOB_UNIT) {
        q->units++;
        q->unit_bytes += j->msg_bytes;
    }
    if (first) {
        j->next = q->jobs;
        q->jobs = j;
        if (!q->jobs_tail)
            q->jobs_tail = j;
    } else {
        j->next = NULL;
        if (q->jobs_tail)
            q->jobs_tail->next = j;
        else
            q->jobs = j;
        q->jobs_tail = j;
    }
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

int vr_decode_queue_push(struct vr_decode_queue *q, const struct vr_frame *f, uint64_t send_us,
                         size_t msg_bytes, uint32_t slow_us)
{
    if (q->threaded) {
        pthread_mutex_lock(&q->lock);
        bool full = q->units >= VR_DECODE_QUEUE_MAX_UNITS ||
                    q->unit_bytes + f->data_len > VR_DECODE_QUEUE_MAX_BYTES;
        pthread_mutex_unlock(&q->lock);
        if (full)
            return -ENOBUFS;
    }
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    int ret = vr_decoder_packet(f, &j->pkt);
    if (ret < 0) {
        free(j);
        return ret == AVERROR(ENOMEM) ? -ENOMEM : ret;
    }
    j->kind = JOB_UNIT;
    j->seq = f->seq;
    j->send_us = send_us;
    j->msg_bytes = msg_bytes;
    j->slow_us = slow_us;
    submit(q, j, false);
    return 0;
}

static struct job *job_new(enum job_kind kind)
{
    struct job *j = calloc(1, sizeof(*j));
    if (j)
        j->kind = kind;
    return j;
}

int vr_decode_queue_drain(struct vr_decode_queue *q)
{
    struct job *j = job_new(JOB_DRAIN);
    if (!j)
        return -ENOMEM;
    submit(q, j, false);
    return 0;
}

void vr_decode_queue_flush(struct vr_decode_queue *q)
{
    if (q->threaded) {
        pthread_mutex_lock(&q->lock);
        jobs_free(q);
        outlist_free(&q->outs);
        q->wake_pending = false;
        q->gen++;
        pthread_mutex_unlock(&q->lock);
    } else {
        outlist_free(&q->outs);
    }
    /* Out of memory: the decoder keeps its references; the session waits
     * for a keyframe after a flush anyway. */
    struct job *j = job_new(JOB_FLUSH);
    if (j)
        submit(q, j, true);
}

bool vr_decode_queue_pop(struct vr_decode_queue *q, struct vr_decode_out *out)
{
    if (q->threaded)
        pthread_mutex_lock(&q->lock);
    struct out *o = q->outs.head;
    if (o) {
        q->outs.head = o->next;
        if (!q->outs.head)
            q->outs.tail = NULL;
        *out = o->o;
        free(o);
    } else {
        q->wake_pending = false;
    }
    if (q->threaded)
        pthread_mutex_unlock(&q->lock);
    return o != NULL;
}

uint32_t vr_decode_queue_backlog(struct vr_decode_queue *q, size_t *msg_bytes)
{
    if (!q->threaded) {
        if (msg_bytes)
            *msg_bytes = 0;
        return 0;
    }
    pthread_mutex_lock(&q->lock);
    uint32_t n = q->units;
    if (msg_bytes)
        *msg_bytes = q->unit_bytes;
    pthread_mutex_unlock(&q->lock);
    return n;
}
