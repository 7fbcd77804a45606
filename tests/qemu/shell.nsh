@echo -off
fs0:
echo "== load"
load \EFI\pmm\pmmcmd.efi
echo "rc=%lasterror%"
echo "== help"
help pmm
echo "== stats"
pmm
echo "rc=%pmm_status%"
echo "== stats-sfo-1"
pmm stats -sfo
echo "== memmap-sfo"
memmap -sfo
echo "== pmm-map-sfo"
pmm map -sfo
echo "== map"
pmm map
echo "== free-sfo"
pmm free -sfo
echo "== free-list"
pmm free
echo "== picture"
pmm picture
echo "== alloc"
pmm alloc 16 -align 64K -below 16M
echo "rc=%pmm_status% last=%pmm_last%"
echo "== stats-sfo-2"
pmm stats -sfo
echo "== ref"
pmm ref %pmm_last% +
echo "rc=%pmm_status%"
pmm free %pmm_last% 16
echo "rc=%pmm_status%"
pmm ref %pmm_last% -
echo "rc=%pmm_status%"
echo "== free"
pmm free %pmm_last% 16
echo "rc=%pmm_status%"
echo "== stats-sfo-3"
pmm stats -sfo
echo "== bad"
pmm free %pmm_last%
echo "rc=%pmm_status%"
pmm bogus
echo "rc=%pmm_status%"
pmm alloc
echo "rc=%pmm_status%"
pmm alloc 0
echo "rc=%pmm_status%"
pmm alloc 4 -align 3
echo "rc=%pmm_status%"
pmm alloc 4 -sideways 2
echo "rc=%pmm_status%"
pmm alloc 0x100000000000
echo "rc=%pmm_status%"
pmm free 0x1001
echo "rc=%pmm_status%"
pmm ref 0 +
echo "rc=%pmm_status%"
pmm ref %pmm_last% *
echo "rc=%pmm_status%"
pmm save
echo "rc=%pmm_status%"
echo "== stats-sfo-4"
pmm stats -sfo
echo "== check"
pmm check
echo "rc=%pmm_status%"
echo "== paged"
pmm map -b
echo "rc=%pmm_status%"
echo "== save"
pmm save fs0:\pmmmap.txt
echo "rc=%pmm_status%"
echo "== usage"
pmm -?
echo "rc=%pmm_status%"
echo "== app"
\EFI\pmm\pmm.efi stats
echo "rc=%lasterror%"
\EFI\pmm\pmm.efi bogus
echo "rc=%lasterror%"
echo "== keep"
pmm alloc 3
echo "== boot"
pmm boot
echo "rc=%pmm_status%"
