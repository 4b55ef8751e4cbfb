// SPDX-License-Identifier: GPL-2.0
#include <linux/export.h>

#include "counter.h"

void kfarm_counter_add(struct kfarm_counter *c, u64 value)
{
	c->total += value;
	c->adds++;
}
EXPORT_SYMBOL_GPL(kfarm_counter_add);
