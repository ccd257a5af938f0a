// SPDX-License-Identifier: GPL-2.0
/*
 * FastTun's in-kernel traffic generator (part of libfasttun_xdp.so; `fasttun gen --driver xdp_live`).
 *
 * Loads xdp_gen.bpf.o (never attached to any interface) and runs it with BPF_PROG_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES, kernel >= 5.18): the kernel copies the template frame into page-pool pages
 * once, runs the program on each frame, and the program's XDP_TX sends the frame out of the interface given
 * as the context's ingress ifindex, through that driver's ndo_xdp_xmit. On veth the frame lands in the peer's
 * rx ring (the peer needs NAPI: an XDP program attached, or GRO on). No skb, no socket, no copy from user
 * space per packet: one core offers several times what a gateway on the other core can take.
 *
 * Frames the receiver could not take (its ring full) are dropped by the kernel, not retried: the generator
 * offers a rate, the receiver's own counters say what it accepted.
 *
 * One BPF_PROG_RUN call does the whole run: the kernel creates a page pool for it and tears it down at the end,
 * and the teardown waits for an RCU grace period (tens of ms here), so calls of a few ms each would leave the
 * link idle most of the time. The call asks for `chunk` frames and is cut short by a signal: a POSIX timer
 * sends SIGALRM to this thread at the deadline (the kernel's run loop checks for a pending signal between
 * batches and returns EINTR), and fasttun_gen_interrupt() sends it at once (SIGINT/SIGTERM handlers). The
 * frames made are counted by the program itself (state.frames, the first field of .bss), not by the call.
 *
 * Returns 0 or a negative errno; *out holds what was done either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define GEN_PROG_NAME "fasttun_gen"

/* Same layout as struct gen_cfg in xdp_gen.bpf.c. */
struct fasttun_gen_cfg {
	__u32 udp_offset;
	__u32 flows;
	__u32 port_base;
	__u32 base_sum;
	__u64 rate_pps; /* 0 = as fast as the kernel runs */
	__u64 head[16]; /* the template's first 128 bytes (zero-padded), restored into every frame */
};

struct fasttun_gen_result {
	__u64 frames; /* frames the program made and sent (offered) */
	__u64 calls;  /* BPF_PROG_RUN calls (1, plus one per signal that was not the deadline or a stop) */
	__u64 ns;     /* CLOCK_MONOTONIC time from the first call to the deadline or stop (teardown excluded) */
	__s64 last_err; /* the last call's result: 0 (all frames asked for were made) or -EINTR (cut short) */
};

/* The thread running fasttun_gen_live (0 when none): fasttun_gen_interrupt signals it. */
static volatile pid_t gen_tid;

static void gen_on_alarm(int sig)
{
	(void)sig; /* only interrupts the bpf() call */
}

__attribute__((visibility("default")))
int fasttun_gen_interrupt(void)
{
	pid_t tid = gen_tid;
	if (tid == 0)
		return 0;
	return syscall(SYS_tgkill, getpid(), tid, SIGALRM) ? -errno : 0;
}

static int gen_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level > LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static __u64 mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static struct bpf_map *internal_map(struct bpf_object *obj, const char *suffix)
{
	struct bpf_map *map;
	size_t k = strlen(suffix);
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t n = strlen(name);
		if (n >= k && strcmp(name + n - k, suffix) == 0)
			return map;
	}
	return NULL;
}

/* state.frames: the first 8 bytes of the .bss map's only value. */
static __u64 frames_made(struct bpf_map *bss)
{
	__u8 value[65536];
	__u32 key = 0;
	if (bpf_map__value_size(bss) > sizeof(value) || bpf_map__value_size(bss) < 8)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(bss), &key, value))
		return 0;
	__u64 frames;
	memcpy(&frames, value, sizeof(frames));
	return frames;
}

/* Opens the generator's BPF object (not yet loaded) with cfg as its .rodata: 0, or a negative errno with the
 * object closed and *obj left NULL. */
static int open_gen_object(const char *obj_path, const struct fasttun_gen_cfg *cfg, struct bpf_object **obj)
{
	libbpf_set_print(gen_print);
	*obj = bpf_object__open_file(obj_path, NULL);
	if (!*obj)
		return -errno;
	int err = libbpf_get_error(*obj);
	if (err) {
		*obj = NULL;
		return err;
	}
	struct bpf_map *ro = internal_map(*obj, ".rodata");
	err = ro ? bpf_map__set_initial_value(ro, cfg, sizeof(*cfg)) : -ENOENT;
	if (err) {
		bpf_object__close(*obj);
		*obj = NULL;
	}
	return err;
}

__attribute__((visibility("default")))
int fasttun_gen_live(const char *obj_path, int ifindex, const void *frame, __u32 frame_len,
		     const struct fasttun_gen_cfg *cfg, __u32 batch, __u32 chunk, __u64 duration_ns,
		     const volatile int *stop, struct fasttun_gen_result *out)
{
	memset(out, 0, sizeof(*out));
	if (!obj_path || !frame || !cfg || ifindex <= 0 || frame_len < 14 || chunk == 0)
		return -EINVAL;
	struct bpf_object *obj;
	int err = open_gen_object(obj_path, cfg, &obj);
	if (err)
		return err;
	struct bpf_map *bss = internal_map(obj, ".bss");
	if (!bss) {
		err = -ENOENT;
		goto out;
	}
	err = bpf_object__load(obj);
	if (err)
		goto out;
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, GEN_PROG_NAME);
	if (!prog) {
		err = -ENOENT;
		goto out;
	}
	int fd = bpf_program__fd(prog);

	/* SIGALRM: a handler that does nothing, without SA_RESTART, so the signal only ends the bpf() call. */
	struct sigaction sa, old_sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = gen_on_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, &old_sa)) {
		err = -errno;
		goto out;
	}
	sigset_t alarm_set, old_mask;
	sigemptyset(&alarm_set);
	sigaddset(&alarm_set, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &alarm_set, &old_mask);
	gen_tid = (pid_t)syscall(SYS_gettid);
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGALRM;
	sev._sigev_un._tid = gen_tid;
	timer_t timer;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer)) {
		err = -errno;
		goto restore;
	}

	struct xdp_md ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.data_end = frame_len;
	ctx.ingress_ifindex = (__u32)ifindex;
	ctx.rx_queue_index = 0;
	__u64 start = mono_ns(), deadline = start + duration_ns, now = start;
	struct itimerspec when;
	memset(&when, 0, sizeof(when));
	when.it_value.tv_sec = deadline / 1000000000ull;
	when.it_value.tv_nsec = deadline % 1000000000ull;
	/* Re-fires every 100 ms after the deadline, in case the first signal landed between two calls. */
	when.it_interval.tv_nsec = 100000000;
	if (timer_settime(timer, TIMER_ABSTIME, &when, NULL)) {
		err = -errno;
		goto delete_timer;
	}
	while (now < deadline && !(stop && *stop)) {
		LIBBPF_OPTS(bpf_test_run_opts, run,
			.data_in = frame,
			.data_size_in = frame_len,
			.ctx_in = &ctx,
			.ctx_size_in = sizeof(ctx),
			.repeat = chunk,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			.batch_size = batch);
		err = bpf_prog_test_run_opts(fd, &run);
		now = mono_ns();
		out->calls++;
		out->last_err = err ? -errno : 0;
		if (err) {
			err = -errno;
			if (err != -EINTR)
				break;
			err = 0; /* the deadline, a stop, or a stray signal: the loop condition says which */
		}
	}
	out->ns = (now < deadline ? now : deadline) - start;
	out->frames = frames_made(bss);
delete_timer:
	timer_delete(timer);
restore:
	gen_tid = 0;
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
out:
	bpf_object__close(obj);
	return err;
}

/*
 * The program's output without sending anything (for tests): loads it with cfg, runs it `runs` times on copies
 * of frame in the ordinary test mode (state carries over between runs, as in a live run) and copies the last
 * run's frame to frame_out (frame_len bytes). Returns the last run's XDP action, or a negative errno.
 */
__attribute__((visibility("default")))
int fasttun_gen_test(const char *obj_path, const void *frame, __u32 frame_len, const struct fasttun_gen_cfg *cfg,
		     __u32 runs, void *frame_out)
{
	if (!obj_path || !frame || !cfg || !frame_out || frame_len < 14 || runs == 0)
		return -EINVAL;
	struct bpf_object *obj;
	int err = open_gen_object(obj_path, cfg, &obj);
	if (err)
		return err;
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, GEN_PROG_NAME);
	if (!prog) {
		err = -ENOENT;
		goto out;
	}
	err = bpf_object__load(obj);
	for (__u32 i = 0; !err && i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, run,
			.data_in = frame,
			.data_size_in = frame_len,
			.data_out = frame_out,
			.data_size_out = frame_len,
			.repeat = 1);
		err = bpf_prog_test_run_opts(bpf_program__fd(prog), &run);
		if (err)
			err = -errno;
		else if (i == runs - 1)
			err = (int)run.retval;
	}
out:
	bpf_object__close(obj);
	return err;
}
