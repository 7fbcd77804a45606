/* lockcount.h - lock hooks for tests that count how often, and how deep, the allocator locks. */
#ifndef LOCKCOUNT_H
#define LOCKCOUNT_H

static int lock_depth, lock_calls;

static void lk(void *ctx)
{
    (void)ctx;
    lock_depth++;
    lock_calls++;
}

static void ulk(void *ctx)
{
    (void)ctx;
    lock_depth--;
}

#endif
