@echo -off
fs0:
load \EFI\pmm\pmmcmd.efi
echo "uefi-pmm: the pmm command is loaded. Try: pmm, pmm map -b, pmm picture, help pmm, pmm boot"
