// SPDX-License-Identifier: MIT
/*
 * Guest tests of the driver's lifetime: rmmod refuses while a file is
 * open; module unload/reload cycles with jobs in between; a process killed
 * and a file closed with jobs queued and running (one of them hung): its
 * fences signal, the other clients' jobs run, every core drains and works
 * afterwards (kmemleak checks the rest under the debug kernel); removing the
 * PCI device while a file is open and jobs are queued or hung (ioctls
 * then fail with -ENODEV, every fence signals, close works) and bringing
 * it back with a bus rescan; removing it while BO_CREATE and QUERY run.
 *
 * Leaves the driver loaded and the device present.
 */
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

#define MODULE "/lib/modules/apu.ko"

/* One good convolution on @core in a fresh file. */
static int one_job(uint32_t core)
{
	int fd = apu_open(), ret;

	if (fd < 0)
		return -errno;
	ret = apu_run_small(fd, core, 0, NULL);
	close(fd);
	return ret;
}

TEST(rmmod_refused_while_open)
{
	int fd = apu_open();

	ASSERT_LE(0, fd);
	EXPECT_NE(0, apu_sh("rmmod apu 2>/dev/null"));
	EXPECT_EQ(0, one_job(0));
	close(fd);
}

TEST(unload_reload_cycles)
{
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, apu_sh("rmmod apu"));
		EXPECT_NE(0, access(apu_node(), F_OK));
		ASSERT_EQ(0, apu_sh("insmod " MODULE));
		ASSERT_TRUE(apu_node_appears(50));
		EXPECT_EQ(0, one_job(i % 6));
	}
}

/* The PCI address of accel0. */
static int bdf(char *out, size_t size)
{
	char link[256];
	ssize_t n = readlink("/sys/class/accel/accel0/device", link, sizeof(link) - 1);

	if (n < 0)
		return -errno;
	link[n] = 0;
	snprintf(out, size, "%s", basename(link));
	return 0;
}

/* Every core's queue and ring empty ("cores" in debugfs), within @ms. */
static int cores_drain(int ms)
{
	char buf[4096];

	for (int t = 0; t < ms; t += 50) {
		char *line;
		int busy = 0, rows = 0;

		if (apu_debugfs_read("cores", buf, sizeof(buf)))
			return -EIO;
		line = strchr(buf, '\n');	/* past the header */
		while (line && *++line) {
			unsigned int queued, inflight;

			if (sscanf(line, "%*u %*s %*s %*u %*u %*u %*u %*u %*u %u %u",
				   &queued, &inflight) == 2) {
				rows++;
				busy += queued || inflight;
			}
			line = strchr(line, '\n');
		}
		if (rows == 6 && !busy)
			return 0;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

/*
 * In @fd: 4 jobs on each core, core 2's first one hanging (fault
 * injection). Each job's fence is exported to @sync_fd[24], so it can be
 * watched after the file or its process is gone.
 */
static int queue_jobs(int fd, int sync_fd[24])
{
	struct apu_buf cmd, data;
	struct apu_conv c;
	struct drm_apu_job_bo bos[1];
	int ret;

	ret = apu_buf_new(fd, 4096, 0, &cmd);
	if (ret)
		return ret;
	ret = apu_buf_new(fd, 1024 * 1024, 0, &data);
	if (ret)
		return ret;
	apu_conv_setup(&c, &data, 16, 16, 32, 32, 3, 512 * 1024, 1);
	apu_op_conv(apu_cmd_header(cmd.cpu, 1), &c);
	bos[0].handle = data.handle;
	bos[0].flags = DRM_APU_JOB_BO_WRITE | DRM_APU_JOB_BO_NO_WAIT;
	ret = apu_debugfs_write("fault_inject", "2 hang");
	for (int i = 0; i < 24 && !ret; i++) {
		uint32_t s;

		ret = drmSyncobjCreate(fd, 0, &s) ? -errno : 0;
		if (!ret)
			ret = apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1),
					  DRM_APU_TARGET_CORE(i % 6), bos, 1, NULL, 0, s,
					  NULL, NULL);
		if (!ret)
			ret = drmSyncobjExportSyncFile(fd, s, &sync_fd[i]) ? -errno : 0;
	}
	/* The BOs stay mapped: the dying process or the close unmaps them. */
	return ret;
}

static void expect_signalled(struct __test_metadata *_metadata, int sync_fd[24])
{
	for (int i = 0; i < 24; i++) {
		struct pollfd p = { .fd = sync_fd[i], .events = POLLIN };

		EXPECT_EQ(1, poll(&p, 1, 20000)) TH_LOG("fence %d did not signal", i);
		close(sync_fd[i]);
	}
}

/* Another process's file descriptor @fd, through a pidfd. */
static int steal_fd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

TEST(process_killed_with_jobs_in_flight)
{
	int pipefd[2], other, sync_fd[24], child_fd[24], st, pidfd;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	other = apu_open();
	ASSERT_LE(0, other);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = apu_open(), fds[24];

		if (fd < 0 || queue_jobs(fd, fds))
			_exit(1);
		/* Tell the parent where the fences are, then wait to be killed. */
		if (write(pipefd[1], fds, sizeof(fds)) != sizeof(fds))
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(sizeof(child_fd), read(pipefd[0], child_fd, sizeof(child_fd)))
		TH_LOG("the child did not queue its jobs");
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	ASSERT_LE(0, pidfd);
	for (int i = 0; i < 24; i++) {
		sync_fd[i] = steal_fd(pidfd, child_fd[i]);
		ASSERT_LE(0, sync_fd[i]);
	}
	close(pidfd);
	/* Killed with its jobs queued, running and hung. */
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st));
	/* Another client is unaffected meanwhile (core 1: not the hung one). */
	EXPECT_EQ(0, apu_run_small(other, 1, 0, NULL));
	expect_signalled(_metadata, sync_fd);
	EXPECT_EQ(0, cores_drain(10000));
	for (int core = 0; core < 6; core++) {
		EXPECT_EQ(0, apu_run_small(other, core, 0, NULL)) TH_LOG("core %d", core);
	}
	close(other);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST(file_closed_with_jobs_in_flight)
{
	int fd = apu_open(), other = apu_open(), sync_fd[24];

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, queue_jobs(fd, sync_fd));
	/* The BOs' CPU mappings hold the file: only close() is left to do. */
	close(fd);
	EXPECT_EQ(0, apu_run_small(other, 3, 0, NULL));
	expect_signalled(_metadata, sync_fd);
	EXPECT_EQ(0, cores_drain(10000));
	for (int core = 0; core < 6; core++) {
		EXPECT_EQ(0, one_job(core)) TH_LOG("core %d", core);
	}
	close(other);
}

/* QUERY of the device block (it reads registers): 0 or a negative errno. */
static int query_device(int fd)
{
	struct drm_apu_query_device d;

	return apu_query_device(fd, &d);
}

TEST(remove_device_with_jobs_in_flight)
{
	struct apu_buf cmd, data;
	struct apu_conv c;
	struct drm_apu_job_bo bos[1];
	struct drm_apu_bo_create bc = { .size = 4096 };
	char addr[64], cmdline[256];
	uint32_t s[8];
	int fd, sync_fd[8];

	ASSERT_EQ(0, bdf(addr, sizeof(addr)));
	fd = apu_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, apu_buf_new(fd, 4096, 0, &cmd));
	ASSERT_EQ(0, apu_buf_new(fd, 1024 * 1024, 0, &data));
	apu_conv_setup(&c, &data, 4, 4, 8, 8, 3, 512 * 1024, 1);
	apu_op_conv(apu_cmd_header(cmd.cpu, 1), &c);
	bos[0].handle = data.handle;
	bos[0].flags = 0;
	/* Core 0 hangs on its first job; seven more queue behind it. */
	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "0 hang"));
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s[i]));
		ASSERT_EQ(0, apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(0),
					 bos, 1, NULL, 0, s[i], NULL, NULL));
		/* After the removal every ioctl fails: keep the fences as sync_files. */
		ASSERT_EQ(0, drmSyncobjExportSyncFile(fd, s[i], &sync_fd[i]));
	}

	snprintf(cmdline, sizeof(cmdline), "echo 1 > /sys/bus/pci/devices/%s/remove", addr);
	ASSERT_EQ(0, apu_sh(cmdline));
	EXPECT_NE(0, access(apu_node(), F_OK));

	/* Every fence signals; ioctls on the open file fail cleanly. */
	for (int i = 0; i < 8; i++) {
		struct pollfd p = { .fd = sync_fd[i], .events = POLLIN };

		EXPECT_EQ(1, poll(&p, 1, 10000)) TH_LOG("fence %d did not signal", i);
		close(sync_fd[i]);
	}
	EXPECT_EQ(-ENODEV, apu_sync_wait(fd, s[0], 0));
	EXPECT_EQ(-ENODEV, apu_submit1(fd, cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(1),
				       bos, 1, NULL, 0, 0, NULL, NULL));
	EXPECT_EQ(-ENODEV, apu_ioctl(fd, DRM_IOCTL_APU_BO_CREATE, &bc));
	EXPECT_EQ(-ENODEV, query_device(fd));
	/* The CPU mapping of a BO still reads (the memory is the host's). */
	EXPECT_EQ(c.in[0], ((int8_t *)data.cpu)[0]);
	apu_buf_free(fd, &cmd);
	apu_buf_free(fd, &data);
	close(fd);

	ASSERT_EQ(0, apu_sh("echo 1 > /sys/bus/pci/rescan"));
	ASSERT_TRUE(apu_node_appears(50));
	for (int core = 0; core < 6; core++) {
		EXPECT_EQ(0, one_job(core)) TH_LOG("core %d after the rescan", core);
	}
}

/*
 * Ioctls racing the removal: one thread creates a BO large enough that
 * BO_CREATE takes a while (the pages are allocated and mapped for the
 * device in it), another queries the device in a loop, and the device is
 * removed while they run. Whatever passed the DRM core's "unplugged"
 * check must keep the device until it is done with the registers and the
 * device address space, or see it gone: every call returns 0 or -ENODEV,
 * and nothing is mapped for the removed device (-ENOMEM: its page tables
 * were already freed) and no register is read after it.
 */
#define RACE_BO_SIZE	(64ull << 20)

struct removal_race {
	int fd;
	volatile int started, stop;
	int create_ret, query_bad, queries;
	struct drm_apu_bo_create bc;
};

static void *race_bo_create(void *arg)
{
	struct removal_race *r = arg;

	r->bc.size = RACE_BO_SIZE;
	r->started = 1;
	r->create_ret = apu_ioctl(r->fd, DRM_IOCTL_APU_BO_CREATE, &r->bc);
	return NULL;
}

static void *race_query(void *arg)
{
	struct removal_race *r = arg;

	while (!r->stop) {
		int ret = query_device(r->fd);

		r->queries++;
		if (ret && ret != -ENODEV && !r->query_bad)
			r->query_bad = ret;
	}
	return NULL;
}

TEST(remove_device_during_bo_create_and_query)
{
	struct removal_race r = { 0 };
	struct drm_apu_bo_create bc = { .size = RACE_BO_SIZE };
	char addr[64], path[128];
	pthread_t tc, tq;
	int64_t t0, t_create;

	ASSERT_EQ(0, bdf(addr, sizeof(addr)));
	r.fd = apu_open();
	ASSERT_LE(0, r.fd);
	/* How long one such BO_CREATE takes here. */
	t0 = apu_now_ns();
	ASSERT_EQ(0, apu_ioctl(r.fd, DRM_IOCTL_APU_BO_CREATE, &bc));
	t_create = apu_now_ns() - t0;
	ASSERT_EQ(0, apu_gem_close(r.fd, bc.handle));
	TH_LOG("a %llu MiB BO_CREATE takes %lld ms", RACE_BO_SIZE >> 20,
	       (long long)(t_create / 1000000));

	ASSERT_EQ(0, pthread_create(&tq, NULL, race_query, &r));
	ASSERT_EQ(0, pthread_create(&tc, NULL, race_bo_create, &r));
	while (!r.started)
		usleep(100);
	/* Remove the device a third of the way into the BO_CREATE. */
	usleep(t_create / 3000);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", addr);
	ASSERT_EQ(0, apu_write_file(path, "1"));
	pthread_join(tc, NULL);
	r.stop = 1;
	pthread_join(tq, NULL);
	EXPECT_NE(0, access(apu_node(), F_OK));

	/* Done before the removal (it waited), or refused. */
	EXPECT_TRUE(r.create_ret == 0 || r.create_ret == -ENODEV)
		TH_LOG("BO_CREATE racing the removal returned %d", r.create_ret);
	EXPECT_EQ(0, r.query_bad) TH_LOG("QUERY racing the removal returned %d", r.query_bad);
	EXPECT_LT(0, r.queries);
	/* Afterwards both fail cleanly. */
	EXPECT_EQ(-ENODEV, query_device(r.fd));
	EXPECT_EQ(-ENODEV, apu_ioctl(r.fd, DRM_IOCTL_APU_BO_CREATE, &bc));
	close(r.fd);

	ASSERT_EQ(0, apu_sh("echo 1 > /sys/bus/pci/rescan"));
	ASSERT_TRUE(apu_node_appears(50));
	EXPECT_EQ(0, one_job(0));
}

TEST_HARNESS_MAIN
