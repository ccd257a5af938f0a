// SPDX-License-Identifier: GPL-2.0
/*
 * FastTun XDP loader shim (libfasttun_xdp.so). Setup only: load xdp_redirect.bpf.o, attach it to an
 * interface (driver mode, falling back to generic mode), hand the XSKMAP fd back to C#, update XSKMAP
 * entries, detach. Nothing here runs per packet; the AF_XDP rings are driven from C#.
 *
 * The program is attached through a bpf_link whose fd the caller holds: no other process can replace or
 * detach it (a netlink attach or detach gets EBUSY), and it goes away with the last fd, so a gateway
 * killed with -9 leaves nothing behind. A program attached the old way (netlink) is not protected: one
 * named like ours is a leftover of a gateway that died (the caller holds the interface lock, so no live
 * FastTun owns it) and is replaced; anything else is refused unless forced. No bpffs is needed because
 * nothing is pinned: the caller keeps the XSKMAP and the link alive through the fds we return.
 *
 * Every function returns 0 or a negative errno.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define FASTTUN_PROG_NAME "fasttun_redir"
#define FASTTUN_MAP_NAME "xsks"

/* Mode preference (flags_mode_pref) and the mode reported back (attached_mode_out). */
enum {
	FASTTUN_XDP_MODE_AUTO = 0,    /* driver, else generic */
	FASTTUN_XDP_MODE_NATIVE = 1,  /* driver mode only */
	FASTTUN_XDP_MODE_GENERIC = 2, /* skb mode only */
};
/* Extra bit in flags_mode_pref: replace a program that is not ours. */
#define FASTTUN_XDP_FORCE 0x100

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level > LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* The program attached to ifindex in one mode: its id, and whether its name is ours. */
static int attached_prog(int ifindex, __u32 *drv_id, __u32 *skb_id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err = bpf_xdp_query(ifindex, 0, &q);
	if (err)
		return err;
	*drv_id = q.drv_prog_id;
	*skb_id = q.skb_prog_id;
	return 0;
}

/* Copies the name of program id into name (BPF_OBJ_NAME_LEN bytes). */
static int prog_name(__u32 id, char *name, size_t len)
{
	struct bpf_prog_info info;
	__u32 info_len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	int err = bpf_obj_get_info_by_fd(fd, &info, &info_len);
	close(fd);
	if (err)
		return err < 0 ? err : -errno;
	snprintf(name, len, "%s", info.name);
	return 0;
}

static int is_ours(__u32 id)
{
	char name[BPF_OBJ_NAME_LEN];
	if (prog_name(id, name, sizeof(name)))
		return 0;
	return strcmp(name, FASTTUN_PROG_NAME) == 0;
}

/*
 * Removes whatever is attached to ifindex if it is ours (a stale copy from a crashed run) or if force is
 * set. Returns -EEXIST when a foreign program is attached and force is not set, and -EBUSY when the
 * program is held by a bpf_link (a running owner: nothing may replace it, force or not).
 */
static int clear_existing(int ifindex, int force)
{
	__u32 drv_id = 0, skb_id = 0;
	int err = attached_prog(ifindex, &drv_id, &skb_id);
	if (err)
		return err;
	if ((drv_id && !is_ours(drv_id) && !force) || (skb_id && !is_ours(skb_id) && !force))
		return -EEXIST;
	/* Detach rather than replace in place: a stale generic-mode program blocks a driver-mode attach. */
	/* A link-held program refuses the netlink detach with EBUSY: its owner is alive. */
	if (drv_id && (err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL)))
		return err;
	if (skb_id && (err = bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL)))
		return err;
	return 0;
}

/* Which of our programs is attached: 0 none, 1 driver mode, 2 generic mode; *prog_id_out its id. A foreign
 * program reports -EEXIST with its id. Used by tests and by detach. */
int fasttun_xdp_query(int ifindex, int *mode_out, unsigned int *prog_id_out)
{
	__u32 drv_id = 0, skb_id = 0;
	int err = attached_prog(ifindex, &drv_id, &skb_id);
	*mode_out = 0;
	*prog_id_out = 0;
	if (err)
		return err;
	__u32 id = drv_id ? drv_id : skb_id;
	if (!id)
		return 0;
	*prog_id_out = id;
	if (!is_ours(id))
		return -EEXIST;
	*mode_out = drv_id ? FASTTUN_XDP_MODE_NATIVE : FASTTUN_XDP_MODE_GENERIC;
	return 0;
}

/* bpf_link attach in one mode; the link fd, or a negative errno. */
static int link_attach(int prog_fd, int ifindex, __u32 mode_flag)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = mode_flag);
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	return fd < 0 ? -errno : fd;
}

int fasttun_xdp_attach(int ifindex, const char *bpf_obj_path, int max_queues, int flags_mode_pref,
		       int *xskmap_fd_out, int *attached_mode_out, int *link_fd_out)
{
	int link_fd = -1;
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	int mode = flags_mode_pref & 0xff;
	int force = !!(flags_mode_pref & FASTTUN_XDP_FORCE);
	int err, prog_fd, map_fd;

	*xskmap_fd_out = -1;
	*attached_mode_out = 0;
	*link_fd_out = -1;
	if (ifindex <= 0 || max_queues <= 0 || mode > FASTTUN_XDP_MODE_GENERIC)
		return -EINVAL;
	libbpf_set_print(quiet_print);

	err = clear_existing(ifindex, force);
	if (err)
		return err;

	obj = bpf_object__open_file(bpf_obj_path, NULL);
	err = libbpf_get_error(obj);
	if (err)
		return err < 0 ? err : -err;
	prog = bpf_object__find_program_by_name(obj, FASTTUN_PROG_NAME);
	map = bpf_object__find_map_by_name(obj, FASTTUN_MAP_NAME);
	if (!prog || !map) {
		err = -ENOENT;
		goto out;
	}
	err = bpf_map__set_max_entries(map, (__u32)max_queues);
	if (err)
		goto out;
	err = bpf_object__load(obj);
	if (err)
		goto out;
	prog_fd = bpf_program__fd(prog);

	/* A link never replaces an attached program: anything that arrived since clear_existing is kept (EBUSY). */
	err = -EOPNOTSUPP;
	if (mode != FASTTUN_XDP_MODE_GENERIC) {
		link_fd = link_attach(prog_fd, ifindex, XDP_FLAGS_DRV_MODE);
		err = link_fd < 0 ? link_fd : 0;
		if (!err)
			*attached_mode_out = FASTTUN_XDP_MODE_NATIVE;
	}
	if (err && mode != FASTTUN_XDP_MODE_NATIVE && err != -EEXIST && err != -EBUSY) {
		link_fd = link_attach(prog_fd, ifindex, XDP_FLAGS_SKB_MODE);
		err = link_fd < 0 ? link_fd : 0;
		if (!err)
			*attached_mode_out = FASTTUN_XDP_MODE_GENERIC;
	}
	if (err)
		goto out;

	/* The object owns its map fd and closes it below; the caller gets its own reference. */
	map_fd = dup(bpf_map__fd(map));
	if (map_fd < 0) {
		err = -errno;
		close(link_fd); /* the last reference: detaches */
		*attached_mode_out = 0;
		goto out;
	}
	*xskmap_fd_out = map_fd;
	*link_fd_out = link_fd;
out:
	/* Closing the object drops our program fd; the link keeps the attached program alive. */
	bpf_object__close(obj);
	return err;
}

int fasttun_xdp_map_set(int map_fd, int queue, int xsk_fd)
{
	__u32 key = (__u32)queue, value = (__u32)xsk_fd;
	int err = bpf_map_update_elem(map_fd, &key, &value, BPF_ANY);
	return err < 0 ? -errno : 0;
}

int fasttun_xdp_map_clear(int map_fd, int queue)
{
	__u32 key = (__u32)queue;
	int err = bpf_map_delete_elem(map_fd, &key);
	return err < 0 && errno != ENOENT ? -errno : 0;
}

/* Detaches a netlink-attached program of ours from ifindex in whichever mode it is attached (a link-held
 * one goes with its link fd; this returns -EBUSY for it). Leaves a foreign program alone (-EEXIST) and
 * succeeds when nothing is attached. */
int fasttun_xdp_detach(int ifindex)
{
	int mode;
	unsigned int id;
	int err = fasttun_xdp_query(ifindex, &mode, &id);
	if (err || mode == 0)
		return err;
	return bpf_xdp_detach(ifindex, mode == FASTTUN_XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE,
			      NULL);
}
