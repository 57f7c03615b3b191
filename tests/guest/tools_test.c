// SPDX-License-Identifier: MIT
/*
 * Guest tests of the tools: apu-run (a convolution and a network, bit-exact
 * against the reference; deadline refusal; a trace file), apu-top (sees
 * this process busy on the cores), apu-info.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"
#include <apu/apu.h>

/* Run @cmd; its output (at most @size - 1 bytes) into @out; exit status. */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int st;

	if (!p)
		return -1;
	while (n + 1 < size && fgets(out + n, (int)(size - n), p))
		n += strlen(out + n);
	out[n] = 0;
	{
		char rest[256];

		while (fgets(rest, sizeof(rest), p))
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char buf[1 << 16];

TEST(apu_info)
{
	EXPECT_EQ(0, run("apu-info", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "1 APU found"));
	EXPECT_NE(NULL, strstr(buf, "tiny"));
	EXPECT_NE(NULL, strstr(buf, "capabilities:     mmu time-accurate fault-injection power-gating"));
	EXPECT_NE(NULL, strstr(buf, "buffers up to 1024 MiB, 255 processes, 64 queued jobs per core"));
}

TEST(example_of_the_guide)
{
	EXPECT_EQ(0, run("apu-example", buf, sizeof(buf))) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "apu: output matches the CPU reference"));
}

TEST(apu_run_convolution)
{
	EXPECT_EQ(0, run("apu-run --conv 40,40,16,32,3,1", buf, sizeof(buf))) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "bit-exact with the CPU reference"));
	EXPECT_EQ(0, run("apu-run --conv 33,21,24,24,3,2,24 --policy low-power", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "bit-exact"));
	EXPECT_EQ(2, run("apu-run --conv 1,2 2>&1", buf, sizeof(buf)));
	EXPECT_EQ(2, run("apu-run --policy fastest 2>&1", buf, sizeof(buf)));
}

TEST(apu_run_network_trace_and_deadline)
{
	FILE *f;

	EXPECT_EQ(0, run("apu-run --model v2 --trace /tmp/v2.json", buf, sizeof(buf))) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "output bit-exact"));
	EXPECT_NE(NULL, strstr(buf, "modeled time"));
	f = fopen("/tmp/v2.json", "r");
	ASSERT_NE(NULL, f);
	ASSERT_LT(0, (int)fread(buf, 1, sizeof(buf) - 1, f));
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "\"traceEvents\""));
	EXPECT_NE(NULL, strstr(buf, "core 5 (tiny)"));
	EXPECT_EQ(0, run("apu-run --model v2 --policy deadline --deadline-us 5", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "refused: the deadline cannot be met"));
}

static atomic_int stop;

static void *busy(void *arg)
{
	struct apu_device *dev = arg;
	struct apu_network *net;
	int in, out;

	if (apu_network_create(dev, &net) ||
	    apu_network_build_model(net, APU_MODEL_MOBILENET_V2, 1, &in, &out) ||
	    apu_network_compile(net, NULL, 0))
		return (void *)1;
	while (!atomic_load(&stop))
		if (apu_network_run(net, NULL))
			break;
	apu_network_destroy(net);
	return NULL;
}

TEST(apu_top_sees_this_process)
{
	struct apu_device *dev;
	pthread_t t;
	char pid[32], *line;

	ASSERT_EQ(0, apu_device_open(apu_node(), &dev));
	ASSERT_EQ(0, pthread_create(&t, NULL, busy, dev));
	EXPECT_EQ(0, run("apu-top -d 0.5 -n 2", buf, sizeof(buf)));
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	apu_device_close(dev);
	snprintf(pid, sizeof(pid), " %d ", getpid());
	line = strstr(buf, pid);
	ASSERT_NE(NULL, line) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "big0"));
	EXPECT_NE(NULL, strstr(buf, "tiny0"));
	/* Some core of this process was busy: a percentage other than 0.0%. */
	line[strcspn(line, "\n")] = 0;
	EXPECT_TRUE(strstr(line, ".") && strcspn(line, "123456789") < strlen(line)) TH_LOG("%s", line);
}

TEST_HARNESS_MAIN
