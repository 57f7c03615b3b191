// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: debugfs, in the accel device's directory (/sys/kernel/debug/accel/<bus id>/
 * on 6.12):
 *
 *   fw_info       hardware and firmware versions, firmware state
 *   cores         each core's class, state, ring indices and counters,
 *                 and the driver's queue: jobs queued, in the ring, resets,
 *                 jobs posted to the ring since the driver loaded
 *   faults        the last device faults: time, core, ASID, status,
 *                 address, fault flags
 *   fault_inject  write "<core> <kind>" to arm a device fault (kinds:
 *                 hang, drop_irq, fail_job, mmu_fault; "refuse_fw" takes
 *                 no core); read the armed faults
 *   reset_core    write a core index to reset that core; the jobs in its
 *                 ring run again
 *
 * Every access to the device is inside drm_dev_enter()/drm_dev_exit(), so
 * the files answer -ENODEV once the device is gone.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>

#include "apu_device.h"
#include "apu_job.h"
#include "apu_ring.h"

static const char *const apu_core_states[] = {
	[APU_CORE_IDLE] = "idle",
	[APU_CORE_BUSY] = "busy",
	[APU_CORE_HUNG] = "hung",
	[APU_CORE_ERROR] = "error",
	[APU_CORE_OFF] = "off",
};

static const char *const apu_inject_names[] = {
	[APU_INJECT_HANG_CORE] = "hang",
	[APU_INJECT_DROP_IRQ] = "drop_irq",
	[APU_INJECT_FAIL_JOB] = "fail_job",
	[APU_INJECT_MMU_FAULT] = "mmu_fault",
	[APU_INJECT_REFUSE_FW] = "refuse_fw",
};

static int fw_info_show(struct seq_file *m, void *unused)
{
	struct apu_device *adev = m->private;
	int idx;

	if (!drm_dev_enter(&adev->drm, &idx))
		return -ENODEV;
	seq_printf(m, "hardware %u.%u.%u\n", APU_VERSION_MAJOR(adev->hw_version),
		   APU_VERSION_MINOR(adev->hw_version),
		   APU_VERSION_PATCH(adev->hw_version));
	seq_printf(m, "firmware %u.%u.%u\n", APU_VERSION_MAJOR(adev->fw_version),
		   APU_VERSION_MINOR(adev->fw_version),
		   APU_VERSION_PATCH(adev->fw_version));
	seq_printf(m, "abi %u.%u\n", APU_FW_ABI_GET_MAJOR(adev->fw_abi),
		   APU_FW_ABI_GET_MINOR(adev->fw_abi));
	seq_printf(m, "status %u\n", apu_read(adev, APU_REG_FW_STATUS));
	drm_dev_exit(idx);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(fw_info);

static int cores_show(struct seq_file *m, void *unused)
{
	struct apu_device *adev = m->private;
	u32 i;
	int idx;

	if (!drm_dev_enter(&adev->drm, &idx))
		return -ENODEV;
	seq_puts(m, "core class  state  ring_size head tail completed_seq jobs busy_cycles queued inflight resets power_ons posted\n");
	for (i = 0; i < adev->num_cores; i++) {
		u32 b = APU_CORE_BASE(i);
		u32 st = apu_read(adev, b + APU_CORE_STATUS);
		u64 seq = apu_read(adev, b + APU_CORE_COMPLETED_SEQ_LO) |
			  (u64)apu_read(adev, b + APU_CORE_COMPLETED_SEQ_HI) << 32;
		u64 cyc = apu_read(adev, b + APU_CORE_BUSY_CYCLES_LO) |
			  (u64)apu_read(adev, b + APU_CORE_BUSY_CYCLES_HI) << 32;

		struct apu_core *core = &adev->cores[i];
		unsigned long flags;
		struct apu_job *job;
		u32 inflight = 0;
		u64 posted;

		spin_lock_irqsave(&core->lock, flags);
		list_for_each_entry(job, &core->inflight, node)
			inflight++;
		posted = core->posted;
		spin_unlock_irqrestore(&core->lock, flags);
		seq_printf(m, "%4u %-6s %-6s %9u %4u %4u %13llu %4u %11llu %6d %8u %6d %9u %6llu\n",
			   i,
			   apu_class_name(core->core_class),
			   st < ARRAY_SIZE(apu_core_states) ? apu_core_states[st] : "?",
			   apu_read(adev, b + APU_CORE_RING_SIZE),
			   apu_read(adev, b + APU_CORE_RING_HEAD),
			   apu_read(adev, b + APU_CORE_RING_TAIL), seq,
			   apu_read(adev, b + APU_CORE_JOBS_DONE), cyc,
			   atomic_read(&core->queued), inflight,
			   atomic_read(&core->resets),
			   apu_read(adev, b + APU_CORE_POWER_ONS), posted);
	}
	drm_dev_exit(idx);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cores);

static int faults_show(struct seq_file *m, void *unused)
{
	struct apu_device *adev = m->private;
	u32 n = ARRAY_SIZE(adev->fault_log), i, first;
	unsigned long flags;

	seq_puts(m, "time_ns core asid status address flags\n");
	spin_lock_irqsave(&adev->fault_lock, flags);
	first = adev->fault_next > n ? adev->fault_next - n : 0;
	for (i = first; i < adev->fault_next; i++) {
		const typeof(adev->fault_log[0]) *f = &adev->fault_log[i % n];

		seq_printf(m, "%lld %u %u %u 0x%llx 0x%x\n", ktime_to_ns(f->when),
			   f->core, f->asid, f->status, f->addr, f->flags);
	}
	spin_unlock_irqrestore(&adev->fault_lock, flags);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(faults);

static int fault_inject_show(struct seq_file *m, void *unused)
{
	struct apu_device *adev = m->private;
	u32 lo, hi, i, k;
	int idx;

	if (!drm_dev_enter(&adev->drm, &idx))
		return -ENODEV;
	lo = apu_read(adev, APU_REG_DBG_PENDING_LO);
	hi = apu_read(adev, APU_REG_DBG_PENDING_HI);
	if (apu_read(adev, APU_REG_DBG_FW_PENDING))
		seq_puts(m, "- refuse_fw\n");
	drm_dev_exit(idx);

	for (i = 0; i < adev->num_cores; i++) {
		u32 bits = ((i < 4 ? lo : hi) >> ((i % 4) * 8)) & 0xff;

		for (k = APU_INJECT_HANG_CORE; k <= APU_INJECT_MMU_FAULT; k++)
			if (bits & BIT(k))
				seq_printf(m, "%u %s\n", i, apu_inject_names[k]);
	}
	return 0;
}

static int fault_inject_open(struct inode *inode, struct file *file)
{
	return single_open(file, fault_inject_show, inode->i_private);
}

/* Copy a short line from userspace, without its trailing newline. */
static int apu_debugfs_line(const char __user *ubuf, size_t len, char *buf,
			    size_t size)
{
	if (len == 0 || len >= size)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	strim(buf);
	return 0;
}

static ssize_t fault_inject_write(struct file *file, const char __user *ubuf,
				  size_t len, loff_t *pos)
{
	struct apu_device *adev = file_inode(file)->i_private;
	char buf[32], name[16];
	u32 core = 0, kind;
	int ret, idx, end = 0;

	ret = apu_debugfs_line(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (!strcmp(buf, "refuse_fw")) {
		kind = APU_INJECT_REFUSE_FW;
	} else {
		/* Exactly "<core> <kind>": nothing may follow. */
		if (sscanf(buf, "%u %15s%n", &core, name, &end) != 2 ||
		    buf[end] || core >= adev->num_cores)
			return -EINVAL;
		for (kind = APU_INJECT_HANG_CORE; kind <= APU_INJECT_MMU_FAULT; kind++)
			if (!strcmp(name, apu_inject_names[kind]))
				break;
		if (kind > APU_INJECT_MMU_FAULT)
			return -EINVAL;
	}
	if (!drm_dev_enter(&adev->drm, &idx))
		return -ENODEV;
	apu_write(adev, APU_REG_DBG_INJECT, APU_DBG_INJECT(core, kind));
	drm_dev_exit(idx);
	return len;
}

static const struct file_operations fault_inject_fops = {
	.owner = THIS_MODULE,
	.open = fault_inject_open,
	.read = seq_read,
	.write = fault_inject_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static ssize_t reset_core_write(struct file *file, const char __user *ubuf,
				size_t len, loff_t *pos)
{
	struct apu_device *adev = file_inode(file)->i_private;
	char buf[16];
	u32 core;
	int ret, idx;

	ret = apu_debugfs_line(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (kstrtou32(buf, 0, &core) || core >= adev->num_cores)
		return -EINVAL;
	if (!drm_dev_enter(&adev->drm, &idx))
		return -ENODEV;
	drm_dev_exit(idx);
	apu_core_reset(&adev->cores[core]);
	return len;
}

static const struct file_operations reset_core_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = reset_core_write,
	.llseek = noop_llseek,
};

/**
 * apu_debugfs_init() - create the debugfs files of a registered device
 * @adev: the device, its DRM device registered
 */
void apu_debugfs_init(struct apu_device *adev)
{
	struct dentry *root = adev->drm.accel ? adev->drm.accel->debugfs_root : NULL;

	if (IS_ERR_OR_NULL(root))
		return;
	debugfs_create_file("fw_info", 0444, root, adev, &fw_info_fops);
	debugfs_create_file("cores", 0444, root, adev, &cores_fops);
	debugfs_create_file("faults", 0444, root, adev, &faults_fops);
	debugfs_create_file("fault_inject", 0600, root, adev, &fault_inject_fops);
	debugfs_create_file("reset_core", 0200, root, adev, &reset_core_fops);
}
