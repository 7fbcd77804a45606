@echo -off
fs0:
load \EFI\pmm\pmmcmd.efi
echo "uefi-pmm: the pmm command is loaded. Try: pmm, pmm map -b, help pmm, pmm boot"
echo "To quit QEMU: Ctrl-A X (or reset -s). Ctrl-C stops a command; Ctrl-A C: monitor"
