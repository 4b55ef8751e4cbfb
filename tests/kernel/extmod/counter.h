/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KFARM_HELLO_COUNTER_H
#define KFARM_HELLO_COUNTER_H

#include <linux/types.h>

struct kfarm_counter {
	u64 total;
	u32 adds;
};

void kfarm_counter_add(struct kfarm_counter *c, u64 value);

#endif
