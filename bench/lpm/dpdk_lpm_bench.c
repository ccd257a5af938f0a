/* Side-by-side LPM benchmark, DPDK side: rte_lpm and rte_fib (DIR24_8) on FastTun's route and destination
 * files, with exactly the loops of FastTun's `lpm-side` mode (bench/FastTun.Benchmarks/LpmSideBySide.cs).
 * Driven by bench/lpm/run.py over stdin/stdout so rounds of the two programs interleave:
 *   stdout: "info KEY VALUE" lines, then "ready";  stdin "round" -> "result IMPL LOOP NS_PER_LOOKUP CHECK" lines
 *   then "done";  stdin "quit" -> exit.
 * Files (bench/lpm/README.md): routes are text "A.B.C.D/LEN NEXTHOP" per line, '#' starts a comment;
 * destinations are raw little-endian uint32 host-order addresses. Next hops must be < 2^24 - 1 (rte_lpm's
 * 24-bit field); "no route" is reported as 0xFFFFFFFF by both sides. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_fib.h>
#include <rte_lpm.h>
#include <rte_vect.h>

#define NO_ROUTE 0xFFFFFFFFu
#define FIB_DEFAULT ((1u << 24) - 1)
#define BULK 64
#define WARMUP 3   /* untimed rounds before "ready" (FastTun's side: LpmSideBySide.WarmupRounds) */

struct route { uint32_t prefix; uint8_t length; uint32_t next_hop; };

static void die(const char *what) { fprintf(stderr, "dpdk_lpm_bench: %s\n", what); exit(1); }

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static struct route *read_routes(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	if (!f) { perror(path); exit(1); }
	size_t cap = 1 << 16, n = 0;
	struct route *r = malloc(cap * sizeof *r);
	char line[256];
	size_t lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash) *hash = 0;
		unsigned a, b, c, d, len;
		unsigned long nh;
		char extra;
		if (sscanf(line, " %c", &extra) != 1) continue;   /* blank or comment */
		if (sscanf(line, " %u.%u.%u.%u/%u %lu %c", &a, &b, &c, &d, &len, &nh, &extra) != 6
		    || a > 255 || b > 255 || c > 255 || d > 255 || len > 32 || nh >= FIB_DEFAULT) {
			fprintf(stderr, "%s:%zu: expected 'A.B.C.D/LEN NEXTHOP' (next hop < %u)\n", path, lineno, FIB_DEFAULT);
			exit(1);
		}
		uint32_t prefix = a << 24 | b << 16 | c << 8 | d;
		uint32_t mask = len == 0 ? 0 : ~0u << (32 - len);
		if (prefix & ~mask) { fprintf(stderr, "%s:%zu: host bits set\n", path, lineno); exit(1); }
		if (n == cap) r = realloc(r, (cap *= 2) * sizeof *r);
		r[n++] = (struct route){ prefix, (uint8_t)len, (uint32_t)nh };
	}
	fclose(f);
	/* rte_lpm takes depths 1..32 only: a /0 becomes the two /1 halves, except a half the file routes itself. */
	size_t zero = n;
	int have_half[2] = { 0, 0 };
	for (size_t i = 0; i < n; i++) {
		if (r[i].length == 0) zero = i;
		if (r[i].length == 1) have_half[r[i].prefix >> 31] = 1;
	}
	if (zero < n) {
		uint32_t nh = r[zero].next_hop;
		r[zero] = r[--n];
		if (n + 2 > cap) r = realloc(r, (cap += 2) * sizeof *r);
		for (uint32_t h = 0; h < 2; h++)
			if (!have_half[h]) r[n++] = (struct route){ h << 31, 1, nh };
	}
	*count = n;
	return r;
}

static uint32_t *read_dests(const char *path, size_t *count)
{
	FILE *f = fopen(path, "rb");
	if (!f) { perror(path); exit(1); }
	fseek(f, 0, SEEK_END);
	long bytes = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (bytes <= 0 || bytes % 4 != 0) die("destination file is not a whole number of uint32");
	uint32_t *d = aligned_alloc(64, (bytes + 63) & ~63L);
	if (fread(d, 1, bytes, f) != (size_t)bytes) die("short read on destination file");
	fclose(f);
	*count = bytes / 4;   /* little-endian host assumed (x86-64) */
	return d;
}

/* ---- rte_lpm: the three loops ---- */
static inline uint32_t lpm_one(struct rte_lpm *lpm, uint32_t ip)
{
	uint32_t nh;
	return rte_lpm_lookup(lpm, ip, &nh) == 0 ? nh : NO_ROUTE;
}

static uint32_t lpm_single(struct rte_lpm *lpm, const uint32_t *d, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < n; i++) sum += lpm_one(lpm, d[i]);
	return sum;
}

static uint32_t lpm_bulk(struct rte_lpm *lpm, const uint32_t *d, size_t n)
{
	uint32_t out[BULK], sum = 0;
	for (size_t i = 0; i + BULK <= n; i += BULK) {
		rte_lpm_lookup_bulk(lpm, d + i, out, BULK);
		/* Same fold as the C# loop: the first and last answer of each batch, no-route mapped. */
		sum += ((out[0] & RTE_LPM_LOOKUP_SUCCESS) ? (out[0] & 0xFFFFFF) : NO_ROUTE)
		     + ((out[BULK - 1] & RTE_LPM_LOOKUP_SUCCESS) ? (out[BULK - 1] & 0xFFFFFF) : NO_ROUTE);
	}
	return sum;
}

static uint32_t lpm_chain(struct rte_lpm *lpm, const uint32_t *d, size_t n)
{
	uint32_t x = 0;
	for (size_t i = 0; i < n; i++) x = lpm_one(lpm, d[i] ^ (x & 0xFF));
	return x;
}

/* ---- rte_fib: bulk API only, so single and chain call it with n = 1 ---- */
static inline uint32_t fib_map(uint64_t nh) { return nh == FIB_DEFAULT ? NO_ROUTE : (uint32_t)nh; }

static uint32_t fib_single(struct rte_fib *fib, const uint32_t *d, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t ip = d[i];
		uint64_t nh;
		rte_fib_lookup_bulk(fib, &ip, &nh, 1);
		sum += fib_map(nh);
	}
	return sum;
}

static uint32_t fib_bulk(struct rte_fib *fib, const uint32_t *d, size_t n)
{
	uint32_t ips[BULK], sum = 0;
	uint64_t out[BULK];
	for (size_t i = 0; i + BULK <= n; i += BULK) {
		memcpy(ips, d + i, sizeof ips);   /* the API takes a non-const array */
		rte_fib_lookup_bulk(fib, ips, out, BULK);
		sum += fib_map(out[0]) + fib_map(out[BULK - 1]);
	}
	return sum;
}

static uint32_t fib_chain(struct rte_fib *fib, const uint32_t *d, size_t n)
{
	uint32_t x = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t ip = d[i] ^ (x & 0xFF);
		uint64_t nh;
		rte_fib_lookup_bulk(fib, &ip, &nh, 1);
		x = fib_map(nh);
	}
	return x;
}

/* One round: every loop of both implementations; prints the results when timed (warm-up rounds print nothing). */
static void run_round(struct rte_lpm *lpm, struct rte_fib *fib, const uint32_t *dests, size_t ndests, int timed)
{
	double t;
	uint32_t c;
#define RUN(impl, loop, call) t = now_ns(); c = call; \
	if (timed) printf("result %s %s %.3f %" PRIu32 "\n", impl, loop, (now_ns() - t) / ndests, c)
	/* One untimed bulk pass before each implementation's loops (FastTun's side does the same): the other
	 * program's round has just run on this CPU and flushed the caches; without it the first loop of a
	 * round measures cache refill, which penalises a cache-resident table most. */
	lpm_bulk(lpm, dests, ndests);
	RUN("rte_lpm", "single", lpm_single(lpm, dests, ndests));
	RUN("rte_lpm", "bulk64", lpm_bulk(lpm, dests, ndests));
	RUN("rte_lpm", "chain", lpm_chain(lpm, dests, ndests));
	fib_bulk(fib, dests, ndests);
	RUN("rte_fib", "single", fib_single(fib, dests, ndests));
	RUN("rte_fib", "bulk64", fib_bulk(fib, dests, ndests));
	RUN("rte_fib", "chain", fib_chain(fib, dests, ndests));
#undef RUN
}

int main(int argc, char **argv)
{
	if (argc != 5) die("usage: dpdk_lpm_bench CPU ROUTES DESTS ANSWERS_OUT");
	char lcores[32];
	snprintf(lcores, sizeof lcores, "%d", atoi(argv[1]));
	/* No hugepages and no devices: EAL memory comes from ordinary pages (-m), enough for tbl24s and tbl8s.
	 * With --no-huge EAL backs it with a shared memfd, which gets no transparent huge pages here (shmem THP
	 * is "never"), so DPDK's tables sit on 4 KiB pages; DPDK with hugetlbfs pages would miss the TLB less.
	 * AVX-512 lookups need the SIMD width raised explicitly (EAL's default cap is 256 bits). */
	char *eal[] = { "dpdk_lpm_bench", "--no-huge", "--no-pci", "-m", "1024", "-l", lcores,
	                "--log-level=lib.eal:error", "--force-max-simd-bitwidth=512", NULL };
	if (rte_eal_init(9, eal) < 0) die("rte_eal_init failed");

	size_t nroutes, ndests;
	struct route *routes = read_routes(argv[2], &nroutes);
	uint32_t *dests = read_dests(argv[3], &ndests);
	printf("info routes %zu\ninfo destinations %zu\n", nroutes, ndests);

	uint32_t tbl8s = 1 << 16;
	struct rte_lpm_config lc = { .max_rules = nroutes + 16, .number_tbl8s = tbl8s, .flags = 0 };
	struct rte_lpm *lpm = rte_lpm_create("bench", 0, &lc);
	if (!lpm) die("rte_lpm_create failed");
	double t0 = now_ns();
	for (size_t i = 0; i < nroutes; i++)
		if (rte_lpm_add(lpm, routes[i].prefix, routes[i].length, routes[i].next_hop) < 0) die("rte_lpm_add failed");
	double lpm_build = now_ns() - t0;
	size_t used_tbl8 = 0;
	for (uint32_t g = 0; g < tbl8s; g++)
		used_tbl8 += lpm->tbl8[(size_t)g * RTE_LPM_TBL8_GROUP_NUM_ENTRIES].valid_group;
	printf("info lpm_build_s %.3f\ninfo lpm_memory_mib %.1f\n", lpm_build / 1e9,
	       (sizeof lpm->tbl24 + used_tbl8 * RTE_LPM_TBL8_GROUP_NUM_ENTRIES * 4.0) / 1048576.0);

	struct rte_fib_conf fc = { .type = RTE_FIB_DIR24_8, .default_nh = FIB_DEFAULT, .max_routes = (int)nroutes + 16,
	                           .rib_ext_sz = 0 };
	fc.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
	fc.dir24_8.num_tbl8 = tbl8s;
	struct rte_fib *fib = rte_fib_create("bench", 0, &fc);
	if (!fib) die("rte_fib_create failed");
	t0 = now_ns();
	for (size_t i = 0; i < nroutes; i++)
		if (rte_fib_add(fib, routes[i].prefix, routes[i].length, routes[i].next_hop) < 0) die("rte_fib_add failed");
	printf("info fib_build_s %.3f\n", (now_ns() - t0) / 1e9);
	const char *fib_kind = "avx512";
	if (rte_fib_select_lookup(fib, RTE_FIB_LOOKUP_DIR24_8_VECTOR_AVX512) != 0) {
		fib_kind = "scalar-macro";   /* no AVX-512 on this CPU or in this DPDK build */
		if (rte_fib_select_lookup(fib, RTE_FIB_LOOKUP_DIR24_8_SCALAR_MACRO) != 0) die("rte_fib_select_lookup failed");
	}
	printf("info fib_lookup %s\n", fib_kind);

	/* Every destination: rte_lpm single, rte_lpm bulk and rte_fib bulk must agree; the answers go to a file
	 * that FastTun's side compares against its own, destination by destination. */
	uint32_t *answers = malloc(ndests * 4), out[BULK], ips[BULK];
	uint64_t fout[BULK];
	size_t mismatches = 0;
	for (size_t i = 0; i < ndests; i++) answers[i] = lpm_one(lpm, dests[i]);
	for (size_t i = 0; i < ndests; i += BULK) {
		unsigned n = ndests - i < BULK ? (unsigned)(ndests - i) : BULK;
		memcpy(ips, dests + i, n * 4);
		rte_lpm_lookup_bulk(lpm, ips, out, n);
		rte_fib_lookup_bulk(fib, ips, fout, n);
		for (unsigned j = 0; j < n; j++) {
			uint32_t l = (out[j] & RTE_LPM_LOOKUP_SUCCESS) ? (out[j] & 0xFFFFFF) : NO_ROUTE;
			mismatches += (l != answers[i + j]) + (fib_map(fout[j]) != answers[i + j]);
		}
	}
	FILE *af = fopen(argv[4], "wb");
	if (!af || fwrite(answers, 4, ndests, af) != ndests || fclose(af) != 0) die("cannot write answers");
	printf("info dpdk_mismatches %zu\n", mismatches);
	/* WARMUP untimed rounds before "ready", as FastTun's side does (LpmSideBySide.WarmupRounds). */
	for (int w = 0; w < WARMUP; w++) run_round(lpm, fib, dests, ndests, 0);
	printf("ready\n");
	fflush(stdout);

	char cmd[64];
	while (fgets(cmd, sizeof cmd, stdin)) {
		if (strncmp(cmd, "quit", 4) == 0) break;
		if (strncmp(cmd, "round", 5) != 0) die("unknown command");
		run_round(lpm, fib, dests, ndests, 1);
		printf("done\n");
		fflush(stdout);
	}
	rte_fib_free(fib);
	rte_lpm_free(lpm);
	rte_eal_cleanup();
	return 0;
}
