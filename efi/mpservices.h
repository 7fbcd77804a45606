/*
 * mpservices.h - EFI_MP_SERVICES_PROTOCOL, which gnu-efi does not declare: the members the loader
 * calls, and the layout of what they return. Facts from the UEFI Platform Initialization
 * specification (1.8), volume 2, section 13.4.
 */
#ifndef PMM_MPSERVICES_H
#define PMM_MPSERVICES_H

#include <efi.h>

#define MP_SERVICES_GUID                                                                           \
    {                                                                                              \
        0x3fdda605, 0xa76e, 0x4f46,                                                                \
        {                                                                                          \
            0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08                                         \
        }                                                                                          \
    }

/* EFI_PROCESSOR_INFORMATION.StatusFlag */
#define MP_STATUS_BSP     0x1u
#define MP_STATUS_ENABLED 0x2u
#define MP_STATUS_HEALTHY 0x4u

/*
 * EFI_PROCESSOR_INFORMATION. ProcessorId is the local APIC ID on x86. PI 1.7 appended the
 * extended location, which firmware fills only when asked: the processor number ORed with
 * MP_EXTENDED_TOPOLOGY (CPU_V2_EXTENDED_TOPOLOGY). Firmware older than that takes the bit as part
 * of the number and answers EFI_NOT_FOUND; the buffer always holds the longer layout, so either
 * version writes inside it.
 */
#define MP_EXTENDED_TOPOLOGY (1u << 24)
struct mp_processor_info {
    UINT64 ProcessorId;
    UINT32 StatusFlag;
    UINT32 Package, Core, Thread;
    UINT32 Extended[6]; /* Package, Module, Tile, Die, Core, Thread */
};

typedef struct mp_services MP_SERVICES;
typedef EFI_STATUS(EFIAPI *MP_GET_NUMBER_OF_PROCESSORS)(MP_SERVICES *This, UINTN *Processors,
                                                        UINTN *EnabledProcessors);
typedef EFI_STATUS(EFIAPI *MP_GET_PROCESSOR_INFO)(MP_SERVICES *This, UINTN ProcessorNumber,
                                                  struct mp_processor_info *Info);

/* The protocol's members in order; the loader calls only the first two. */
struct mp_services {
    MP_GET_NUMBER_OF_PROCESSORS GetNumberOfProcessors;
    MP_GET_PROCESSOR_INFO GetProcessorInfo;
    void *StartupAllAPs, *StartupThisAP, *SwitchBSP, *EnableDisableAP, *WhoAmI;
};

#endif
