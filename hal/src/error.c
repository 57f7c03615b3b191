// SPDX-License-Identifier: MIT
/* Error messages. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "apu_internal.h"

const char *apu_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case ENODEV:
		return "no such APU (no device, or the node is not driven by the apu kernel driver)";
	case EPROTO:
		return "the apu kernel driver answered something this libapu does not understand (version mismatch?)";
	case ENOENT:
		return "no such device node";
	case EACCES:
	case EPERM:
		return "permission denied on the device node (is the user in the node's group?)";
	case EINVAL:
		return "invalid argument";
	case ENOMEM:
		return "out of memory";
	default:
		/* glibc >= 2.32: a static string, safe from any thread. */
		s = strerrordesc_np(err);
		return s ? s : "unknown error";
	}
}
