/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * apu tracepoints: /sys/kernel/tracing/events/apu/
 *
 * Copyright (c) 2026 The apu authors
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM apu

#if !defined(__APU_TRACE_H__) || defined(TRACE_HEADER_MULTI_READ)
#define __APU_TRACE_H__

#include <linux/tracepoint.h>
#include <linux/types.h>

TRACE_EVENT(apu_job_submit,
	    TP_PROTO(u32 core, u64 job, u32 asid, u32 num_bos),
	    TP_ARGS(core, job, asid, num_bos),
	    TP_STRUCT__entry(__field(u32, core)
			     __field(u64, job)
			     __field(u32, asid)
			     __field(u32, num_bos)),
	    TP_fast_assign(__entry->core = core;
			   __entry->job = job;
			   __entry->asid = asid;
			   __entry->num_bos = num_bos;),
	    TP_printk("core=%u job=%llu asid=%u bos=%u", __entry->core,
		      __entry->job, __entry->asid, __entry->num_bos)
);

TRACE_EVENT(apu_job_run,
	    TP_PROTO(u32 core, u64 job, u64 seqno, u32 asid),
	    TP_ARGS(core, job, seqno, asid),
	    TP_STRUCT__entry(__field(u32, core)
			     __field(u64, job)
			     __field(u64, seqno)
			     __field(u32, asid)),
	    TP_fast_assign(__entry->core = core;
			   __entry->job = job;
			   __entry->seqno = seqno;
			   __entry->asid = asid;),
	    TP_printk("core=%u job=%llu seqno=%llu asid=%u", __entry->core,
		      __entry->job, __entry->seqno, __entry->asid)
);

TRACE_EVENT(apu_job_done,
	    TP_PROTO(u32 core, u64 job, u64 seqno, u32 status, u64 cycles),
	    TP_ARGS(core, job, seqno, status, cycles),
	    TP_STRUCT__entry(__field(u32, core)
			     __field(u64, job)
			     __field(u64, seqno)
			     __field(u32, status)
			     __field(u64, cycles)),
	    TP_fast_assign(__entry->core = core;
			   __entry->job = job;
			   __entry->seqno = seqno;
			   __entry->status = status;
			   __entry->cycles = cycles;),
	    TP_printk("core=%u job=%llu seqno=%llu status=%u cycles=%llu",
		      __entry->core, __entry->job, __entry->seqno,
		      __entry->status, __entry->cycles)
);

TRACE_EVENT(apu_fault,
	    TP_PROTO(u32 core, u64 addr, u32 flags),
	    TP_ARGS(core, addr, flags),
	    TP_STRUCT__entry(__field(u32, core)
			     __field(u64, addr)
			     __field(u32, flags)),
	    TP_fast_assign(__entry->core = core;
			   __entry->addr = addr;
			   __entry->flags = flags;),
	    TP_printk("core=%u addr=0x%llx flags=0x%x", __entry->core,
		      __entry->addr, __entry->flags)
);

TRACE_EVENT(apu_core_reset,
	    TP_PROTO(u32 core, u64 job),
	    TP_ARGS(core, job),
	    TP_STRUCT__entry(__field(u32, core)
			     __field(u64, job)),
	    TP_fast_assign(__entry->core = core;
			   __entry->job = job;),
	    TP_printk("core=%u guilty_job=%llu", __entry->core, __entry->job)
);

#endif /* __APU_TRACE_H__ */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE apu_trace
#include <trace/define_trace.h>
