/*
 * fw5test.h - a test variant's stand-in for a firmware that runs 5-level paging (fw5test.c).
 */
#ifndef PMM_LIMINE_FW5TEST_H
#define PMM_LIMINE_FW5TEST_H

/* After ExitBootServices, on the boot CPU: into 5-level paging, every address kept. */
void fw5test_switch(void);

#endif
