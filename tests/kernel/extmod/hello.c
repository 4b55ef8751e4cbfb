// SPDX-License-Identifier: GPL-2.0
// kfarm's out-of-tree test module: two objects, kernel types in its BTF (list_head, module,
// kobject through THIS_MODULE), so module BTF is split against the base, and a .BTF_ids list
// that resolve_btfids patches in the .ko (a module-local type from the split BTF, a base type
// that 7.x's distilled base keeps whole).
#include <linux/init.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/types.h>
// Last: 6.1's btf_ids.h uses u32 without including what defines it.
#include <linux/btf_ids.h>

#include "counter.h"

static LIST_HEAD(kfarm_hello_items);

BTF_ID_LIST(kfarm_hello_btf_ids)
BTF_ID(struct, kfarm_counter)
BTF_ID(struct, list_head)

struct kfarm_hello_item {
	struct list_head node;
	struct kfarm_counter counter;
};

static int __init kfarm_hello_init(void)
{
	struct kfarm_hello_item *item = kzalloc(sizeof(*item), GFP_KERNEL);

	if (!item)
		return -ENOMEM;
	kfarm_counter_add(&item->counter, THIS_MODULE->name[0]);
	pr_debug("kfarm_hello: struct kfarm_counter is BTF type %u\n", kfarm_hello_btf_ids[0]);
	list_add(&item->node, &kfarm_hello_items);
	return 0;
}

static void __exit kfarm_hello_exit(void)
{
	struct kfarm_hello_item *item, *next;

	list_for_each_entry_safe(item, next, &kfarm_hello_items, node) {
		list_del(&item->node);
		kfree(item);
	}
}

module_init(kfarm_hello_init);
module_exit(kfarm_hello_exit);
MODULE_DESCRIPTION("kfarm out-of-tree test module");
MODULE_LICENSE("GPL");
