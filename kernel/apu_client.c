// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: clients - the processes using the device, for the limits and bans
 * that must hold across their files.
 *
 * Every open file of the node takes an address space, and the device has
 * few (254 for files). One process opening the node over and over would
 * take them all and lock every other user out, so the driver counts the
 * files of each process (its thread group) and of each user, and refuses
 * a file past either limit with -EMFILE:
 *
 *   max_files_per_process   default 64
 *   max_files_per_user      default 0: three quarters of the address spaces
 *
 * so that one process leaves room for others of its user, and one user
 * leaves a quarter of the device to the others.
 *
 * A file counts until its address space goes: when it is closed and its
 * last job has ended, not at close.
 *
 * A process whose jobs fault the device MMU or hang a core ban_limit times
 * is banned: none of its files may submit (-EIO) for ban_ms milliseconds,
 * including files it opens afterwards, and its queued jobs are canceled.
 * The ban belongs to the process that opened the file, not to the file:
 * reopening the node neither lifts it nor forgets the faults counted (a
 * process is remembered while it faulted within ban_ms). A process that
 * forks children to start afresh is not caught: they are new processes,
 * each of which must fault ban_limit times itself. A server that opens a
 * file per tenant is banned as a whole; it runs with ban_limit=0, or a
 * process per tenant.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/cred.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "apu_client.h"
#include "apu_device.h"

static unsigned int apu_max_files_per_process = 64;
module_param_named(max_files_per_process, apu_max_files_per_process, uint, 0644);
MODULE_PARM_DESC(max_files_per_process, "Open files of the node one process may hold (0: no limit; default 64)");

static unsigned int apu_max_files_per_user;
module_param_named(max_files_per_user, apu_max_files_per_user, uint, 0644);
MODULE_PARM_DESC(max_files_per_user, "Open files of the node one user may hold (0: three quarters of the device's address spaces)");

unsigned int apu_ban_limit = 8;
module_param_named(ban_limit, apu_ban_limit, uint, 0644);
MODULE_PARM_DESC(ban_limit, "Faults and hangs after which a process may submit no more, for ban_ms; its queued jobs are canceled (0: never; default 8)");

static unsigned int apu_ban_ms = 60000;
module_param_named(ban_ms, apu_ban_ms, uint, 0644);
MODULE_PARM_DESC(ban_ms, "How long a ban lasts, in milliseconds (default 60000)");

static void apu_client_release(struct kref *kref)
{
	struct apu_client *client = container_of(kref, struct apu_client, refcount);

	put_pid(client->pid);
	kfree(client);
}

static void apu_client_put(struct apu_client *client)
{
	kref_put(&client->refcount, apu_client_release);
}

static bool apu_client_ban_active(struct apu_client *client)
{
	u64 until = atomic64_read(&client->banned_until);

	return until && time_before64(get_jiffies_64(), until);
}

/* Faults counted within ban_ms: reopening must not forget them. */
static bool apu_client_faulted_lately(struct apu_client *client)
{
	u64 last = atomic64_read(&client->last_fault);

	return atomic_read(&client->faults) &&
	       time_before64(get_jiffies_64(),
			     last + msecs_to_jiffies(READ_ONCE(apu_ban_ms)));
}

/* Unlist the clients without files, a ban or recent faults. */
static void apu_clients_prune_locked(struct apu_device *adev)
{
	struct apu_client *client, *tmp;

	lockdep_assert_held(&adev->clients_lock);
	list_for_each_entry_safe(client, tmp, &adev->clients, node) {
		if (client->files || apu_client_ban_active(client) ||
		    apu_client_faulted_lately(client))
			continue;
		list_del(&client->node);
		apu_client_put(client);
	}
}

static unsigned int apu_user_limit(struct apu_device *adev)
{
	unsigned int limit = READ_ONCE(apu_max_files_per_user);

	if (limit)
		return limit;
	return max(1u, (adev->num_ctx - 1) * 3 / 4);
}

/**
 * apu_client_open() - count a new file of the calling process
 * @adev: the device
 *
 * Return: the process's client, referenced (apu_client_close() drops it),
 * or an ERR_PTR: -EMFILE when the process or its user holds as many files
 * of the node as allowed, -ENOMEM.
 */
struct apu_client *apu_client_open(struct apu_device *adev)
{
	unsigned int per_process = READ_ONCE(apu_max_files_per_process);
	unsigned int per_user = apu_user_limit(adev);
	struct pid *pid = task_tgid(current);
	kuid_t uid = current_uid();
	struct apu_client *client, *found = NULL, *new;
	unsigned int user_files = 0;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return ERR_PTR(-ENOMEM);

	mutex_lock(&adev->clients_lock);
	apu_clients_prune_locked(adev);
	list_for_each_entry(client, &adev->clients, node) {
		if (client->pid == pid)
			found = client;
		if (uid_eq(client->uid, uid))
			user_files += client->files;
	}
	if (found && per_process && found->files >= per_process) {
		drm_dbg_driver(&adev->drm, "process %d holds %u files already\n",
			       pid_vnr(pid), found->files);
		client = ERR_PTR(-EMFILE);
		goto out;
	}
	if (user_files >= per_user) {
		drm_dbg_driver(&adev->drm, "user %u holds %u files already\n",
			       from_kuid_munged(current_user_ns(), uid), user_files);
		client = ERR_PTR(-EMFILE);
		goto out;
	}
	if (!found) {
		kref_init(&new->refcount);	/* the list's */
		new->pid = get_pid(pid);
		new->uid = uid;
		list_add_tail(&new->node, &adev->clients);
		found = new;
		new = NULL;
	}
	found->files++;
	kref_get(&found->refcount);	/* the file's */
	client = found;
out:
	mutex_unlock(&adev->clients_lock);
	kfree(new);
	return client;
}

/**
 * apu_client_close() - a file of @client went: closed, and its last job
 * ended (its address space is given back)
 * @adev: the device
 * @client: its client, as apu_client_open() returned it; the file's
 *	    reference is dropped
 *
 * The client stays listed while it has files, a ban runs, or it faulted
 * within ban_ms. Process context.
 */
void apu_client_close(struct apu_device *adev, struct apu_client *client)
{
	mutex_lock(&adev->clients_lock);
	client->files--;
	apu_clients_prune_locked(adev);
	mutex_unlock(&adev->clients_lock);
	apu_client_put(client);
}

/**
 * apu_client_fault() - a job of @client faulted the device MMU or hung
 * @client: the client
 *
 * Bans the client for ban_ms once it reaches ban_limit; the count starts
 * again, so that after a ban ends the client has ban_limit faults again.
 * Any context (called with a core's lock held, interrupts off).
 */
void apu_client_fault(struct apu_client *client)
{
	unsigned int limit = READ_ONCE(apu_ban_limit);
	u64 now = get_jiffies_64();

	if (!limit)
		return;
	atomic64_set(&client->last_fault, now);
	if (atomic_inc_return(&client->faults) < limit)
		return;
	atomic_set(&client->faults, 0);
	atomic64_set(&client->banned_until,
		     now + msecs_to_jiffies(READ_ONCE(apu_ban_ms)) + 1);
}

/**
 * apu_client_banned() - may @client submit and run jobs?
 * @client: the client
 *
 * Any context.
 *
 * Return: true while a ban of the client runs.
 */
bool apu_client_banned(struct apu_client *client)
{
	return apu_client_ban_active(client);
}

static void apu_clients_fini(struct drm_device *drm, void *arg)
{
	struct apu_device *adev = arg;
	struct apu_client *client, *tmp;

	/* No file is left: only banned clients may still be listed. */
	list_for_each_entry_safe(client, tmp, &adev->clients, node) {
		drm_WARN_ON(drm, client->files);
		list_del(&client->node);
		apu_client_put(client);
	}
	mutex_destroy(&adev->clients_lock);
}

/**
 * apu_clients_init() - the device's client list
 * @adev: the device
 *
 * Return: 0 or a negative errno.
 */
int apu_clients_init(struct apu_device *adev)
{
	mutex_init(&adev->clients_lock);
	INIT_LIST_HEAD(&adev->clients);
	return drmm_add_action_or_reset(&adev->drm, apu_clients_fini, adev);
}
