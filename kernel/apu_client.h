/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Copyright (c) 2026 The apu authors
 */
#ifndef __APU_CLIENT_H__
#define __APU_CLIENT_H__

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/uidgid.h>

struct apu_device;
struct pid;

/**
 * struct apu_client - a process using the device (apu_client.c)
 * @refcount: held by &apu_device.clients while listed, and by each file
 *	      the process opened
 * @node: in &apu_device.clients, under &apu_device.clients_lock
 * @pid: the thread group, referenced
 * @uid: the user that opened the process's first file
 * @files: files of the process whose address space lives: open, or
 *	   closed with jobs still to end; under &apu_device.clients_lock
 * @faults: MMU faults and hangs of its jobs since the last ban
 * @last_fault: jiffies64 of the last one
 * @banned_until: jiffies64 at which its ban ends; 0 when not banned
 */
struct apu_client {
	struct kref refcount;
	struct list_head node;
	struct pid *pid;
	kuid_t uid;
	unsigned int files;
	atomic_t faults;
	atomic64_t last_fault;
	atomic64_t banned_until;
};

extern unsigned int apu_ban_limit;

int apu_clients_init(struct apu_device *adev);
struct apu_client *apu_client_open(struct apu_device *adev);
void apu_client_close(struct apu_device *adev, struct apu_client *client);
void apu_client_fault(struct apu_client *client);
bool apu_client_banned(struct apu_client *client);

#endif /* __APU_CLIENT_H__ */
