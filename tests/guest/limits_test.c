// SPDX-License-Identifier: MIT
/*
 * Guest tests of the limits that keep one process or user from locking
 * the others out (kernel/apu_client.c, apu_job.c): files (address spaces)
 * per process and per user, jobs queued per file, bans that cover every
 * file of a process, and job memory charged to the submitter's memory
 * cgroup.
 *
 * Runs as root: it changes the driver's parameters (restored at the end)
 * and switches user in child processes.
 */
#include <grp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "apu_guest.h"

#define PARAM_DIR "/sys/module/apu/parameters/"

static unsigned int param_get(const char *name)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return ~0u;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return (unsigned int)strtoul(buf, NULL, 10);
}

static int param_set(const char *name, unsigned int v)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%u", v);
	return apu_write_file(path, buf);
}

/* Open files of the node until one fails; their count, the error in *err. */
static int open_until_refused(int *fds, int max, int *err)
{
	int n;

	*err = 0;
	for (n = 0; n < max; n++) {
		fds[n] = apu_open();
		if (fds[n] < 0) {
			*err = errno;
			break;
		}
	}
	return n;
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* In a child running as @uid (if not 0): can it open the node? errno or 0. */
static int child_open(uid_t uid)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd;

		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(200);
		fd = apu_open();
		_exit(fd < 0 ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * One process may hold 64 files (the default): the 65th is refused with
 * EMFILE, and another process of the same user still opens the node.
 */
TEST(process_file_limit_leaves_other_processes_working)
{
	int fds[80], err, n;

	ASSERT_EQ(64u, param_get("max_files_per_process"));
	n = open_until_refused(fds, 80, &err);
	EXPECT_EQ(64, n);
	EXPECT_EQ(EMFILE, err);
	EXPECT_EQ(0, child_open(0));
	close_all(fds, n);
	/* Closing gives the room back. */
	n = open_until_refused(fds, 2, &err);
	EXPECT_EQ(2, n);
	close_all(fds, n);
}

/*
 * A user's files are limited across its processes; other users keep
 * working. The limit is lowered to 6 for the test (default: three
 * quarters of the address spaces).
 */
TEST(user_file_limit_leaves_other_users_working)
{
	unsigned int old = param_get("max_files_per_user");
	struct stat st;
	int fds[8], err, n;

	ASSERT_NE(~0u, old);
	ASSERT_EQ(0, stat(apu_node(), &st));
	ASSERT_EQ(0, chmod(apu_node(), 0666));
	ASSERT_EQ(0, param_set("max_files_per_user", 6));
	n = open_until_refused(fds, 8, &err);
	EXPECT_EQ(6, n);
	EXPECT_EQ(EMFILE, err);
	/* Another process of the same user: refused too. */
	EXPECT_EQ(EMFILE, child_open(0));
	/* Another user: works. */
	EXPECT_EQ(0, child_open(65534));
	close_all(fds, n);
	EXPECT_EQ(0, child_open(0));
	EXPECT_EQ(0, param_set("max_files_per_user", old));
	chmod(apu_node(), st.st_mode & 07777);
}

/* A command BO with one small valid job at offset 0, and its data BO. */
struct small_job {
	struct apu_buf cmd, data;
	struct apu_conv c;
	struct drm_apu_job_bo bos[1];
};

static int small_job_new(int fd, struct small_job *j, unsigned int seed)
{
	int ret = apu_buf_new(fd, 4096, 0, &j->cmd);

	if (!ret)
		ret = apu_buf_new(fd, 64 * 1024, 0, &j->data);
	if (ret)
		return ret;
	apu_conv_setup(&j->c, &j->data, 4, 4, 8, 8, 1, 32 * 1024, seed);
	apu_op_conv(apu_cmd_header(j->cmd.cpu, 1), &j->c);
	j->bos[0] = (struct drm_apu_job_bo){ j->data.handle, DRM_APU_JOB_BO_WRITE };
	return 0;
}

static int small_job_submit(int fd, struct small_job *j, uint32_t core,
			    uint32_t out_syncobj, uint64_t *id)
{
	return apu_submit1(fd, j->cmd.handle, 0, apu_cmd_size(1), DRM_APU_TARGET_CORE(core),
			   j->bos, 1, NULL, 0, out_syncobj, id, NULL);
}

/*
 * A file's queue is bounded (max_file_jobs, lowered to 16 here): with a
 * job hung on core 2 and the rest queued behind it, the 17th submit fails
 * with EBUSY and queues nothing; another file still submits; once the
 * jobs end the file submits again.
 */
TEST(file_job_queue_is_bounded)
{
	unsigned int old = param_get("max_file_jobs");
	struct small_job j, j2;
	struct drm_apu_job_info info;
	uint32_t s, s2;
	uint64_t id, last = 0;
	int fd = apu_open(), fd2 = apu_open();

	ASSERT_NE(~0u, old);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, small_job_new(fd, &j, 1));
	ASSERT_EQ(0, small_job_new(fd2, &j2, 2));
	ASSERT_EQ(0, param_set("max_file_jobs", 16));
	ASSERT_EQ(0, drmSyncobjCreate(fd, 0, &s));
	ASSERT_EQ(0, drmSyncobjCreate(fd2, 0, &s2));

	ASSERT_EQ(0, apu_debugfs_write("fault_inject", "2 hang"));
	for (int i = 0; i < 16; i++) {
		int ret = small_job_submit(fd, &j, 2, s, &last);

		ASSERT_EQ(0, ret);
	}
	EXPECT_EQ(-EBUSY, small_job_submit(fd, &j, 2, 0, &id));
	/* Still queued behind the hang: the refusal was the bound, not luck. */
	ASSERT_EQ(0, apu_job_info(fd, last, &info));
	EXPECT_NE(DRM_APU_JOB_DONE, info.state);
	/* Another file has its own queue. */
	EXPECT_EQ(0, small_job_submit(fd2, &j2, 0, s2, NULL));
	ASSERT_EQ(0, apu_sync_wait(fd2, s2, 30000));

	ASSERT_EQ(0, apu_sync_wait(fd, s, 30000));
	/* Jobs are retired shortly after their fence signals. */
	for (int tries = 0; tries < 100; tries++) {
		if (small_job_submit(fd, &j, 0, 0, &id) == 0)
			break;
		usleep(20000);
	}
	ASSERT_EQ(0, apu_job_info(fd, id, &info));
	EXPECT_EQ(0, param_set("max_file_jobs", old));
	drmSyncobjDestroy(fd, s);
	drmSyncobjDestroy(fd2, s2);
	close(fd);
	close(fd2);
}

/* memory.current of cgroup @dir, in bytes; -1 on error. */
static long long cg_current(const char *dir)
{
	char path[256], buf[64] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/memory.current", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = 0;
	close(fd);
	return buf[0] ? atoll(buf) : -1;
}

#define CG_ROOT "/sys/fs/cgroup"
#define CG_DIR CG_ROOT "/apu-limits-test"
#define CG_JOBS 4000

/*
 * What a submit allocates (jobs, their BO lists, fences and the records
 * the file keeps of them) is charged to the submitting process's memory
 * cgroup: 4000 jobs' records alone are at least 100 bytes each.
 */
TEST(job_memory_is_charged_to_the_submitters_cgroup)
{
	char pidbuf[32];
	pid_t pid;
	int st, pipefd[2];
	long long before, after;

	if (access(CG_ROOT "/cgroup.controllers", F_OK) &&
	    mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL)) {
		/* The debug kernel is built without control groups. */
		ASSERT_EQ(ENODEV, errno);
		SKIP(return, "no cgroup2 in this kernel (%s)", strerror(errno));
	}
	ASSERT_EQ(0, apu_write_file(CG_ROOT "/cgroup.subtree_control", "+memory"));
	rmdir(CG_DIR);
	ASSERT_EQ(0, mkdir(CG_DIR, 0755));
	ASSERT_EQ(0, pipe(pipefd));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct small_job j;
		struct drm_apu_job jobs[64];
		struct drm_apu_submit sub = { .jobs = (uintptr_t)jobs, .job_size = sizeof(jobs[0]) };
		long long d[2];
		uint32_t s;
		int fd, ret = 0;
		char c;

		close(pipefd[1]);
		/* Wait until the parent moved us into the group. */
		if (read(pipefd[0], &c, 1) != 1)
			_exit(10);
		fd = apu_open();
		if (fd < 0 || small_job_new(fd, &j, 3) || drmSyncobjCreate(fd, 0, &s))
			_exit(11);
		for (int i = 0; i < 64; i++)
			jobs[i] = (struct drm_apu_job){
				.cmdbuf_handle = j.cmd.handle,
				.cmdbuf_size = apu_cmd_size(1),
				.target = DRM_APU_TARGET_CLASS(APU_CLASS_BIG),
				.priority = DRM_APU_JOB_PRIORITY_NORMAL,
				.bos = (uintptr_t)j.bos,
				.num_bos = 1,
			};
		d[0] = cg_current(CG_DIR);
		for (int n = 0; n < CG_JOBS && !ret; n += sub.num_jobs) {
			sub.num_jobs = CG_JOBS - n < 64 ? CG_JOBS - n : 64;
			jobs[sub.num_jobs - 1].out_syncobj = n + sub.num_jobs == CG_JOBS ? s : 0;
			ret = apu_ioctl(fd, DRM_IOCTL_APU_SUBMIT, &sub);
		}
		if (ret || apu_sync_wait(fd, s, 120000))
			_exit(12);
		d[1] = cg_current(CG_DIR);
		if (d[0] < 0 || d[1] < 0)
			_exit(13);
		printf("# cgroup memory: %lld before, %lld after %d jobs\n", d[0], d[1], CG_JOBS);
		fflush(stdout);
		_exit(d[1] - d[0] >= 100LL * CG_JOBS ? 0 : 20);
	}
	close(pipefd[0]);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	ASSERT_EQ(0, apu_write_file(CG_DIR "/cgroup.procs", pidbuf));
	before = cg_current(CG_DIR);
	ASSERT_EQ(1, write(pipefd[1], "g", 1));
	close(pipefd[1]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	after = cg_current(CG_DIR);
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("child status %d (20: too little charged; group %lld -> %lld)",
					     WEXITSTATUS(st), before, after);
	rmdir(CG_DIR);
}

TEST_HARNESS_MAIN
