@echo -off
fs0:
echo "== load"
load \EFI\pmm\pmmcmd.efi
echo "rc=%lasterror%"
echo "== help"
help pmm
echo "== help-list"
help
echo "== help-h"
pmm -h
echo "== help-alloc"
pmm alloc -h
echo "rc=%pmm_status%"
echo "== help-stats"
pmm stats --help
echo "== help-map"
pmm -h map
echo "== help-ranges"
pmm ranges -h
echo "== help-picture"
pmm picture -h
echo "== help-free"
pmm free -h
echo "== help-ref"
pmm ref -h
echo "== help-check"
pmm check -h
echo "== help-save"
pmm save -h
echo "== help-boot"
pmm boot -h
echo "== files"
pmm stats -sfo > fs0:\stats.txt
echo "rc=%pmm_status%"
memmap -sfo > fs0:\memmap.txt
pmm map > fs0:\map.txt
echo "== stats-sfo-1"
pmm stats -sfo
echo "== stats"
pmm
echo "rc=%pmm_status%"
echo "== memmap-sfo"
memmap -sfo
echo "== pmm-map-sfo"
pmm map -sfo
echo "== memmap-after"
memmap -sfo
echo "== map"
pmm map
echo "rc=%pmm_status%"
echo "== ranges-sfo"
pmm ranges -sfo
echo "== ranges"
pmm ranges
echo "rc=%pmm_status%"
echo "== low-alloc"
pmm alloc 3 -below 1M
echo "rc=%pmm_status% last=%pmm_last%"
echo "== picture"
pmm picture
echo "rc=%pmm_status%"
echo "== why-page0"
pmm free 0
echo "rc=%pmm_status%"
echo "== why-withheld"
pmm free 0x900000
echo "rc=%pmm_status%"
echo "== why-meta"
pmm stats -sfo > fs0:\s.txt
parse fs0:\s.txt PmmMetadata 2 >v meta
echo "meta=%meta%"
pmm free 0x%meta% 2
echo "rc=%pmm_status%"
echo "== why-never"
pmm free 0x806000
echo "rc=%pmm_status%"
echo "== why-hole"
pmm free 0xA0000
echo "rc=%pmm_status%"
echo "== why-past"
pmm free 0xB0000000
echo "rc=%pmm_status%"
echo "== run-free"
pmm free 0x2000
echo "rc=%pmm_status%"
pmm free 0x1000 3
echo "rc=%pmm_status%"
pmm free 0x1000
echo "rc=%pmm_status%"
pmm free 0x3000
echo "rc=%pmm_status%"
echo "== alloc"
pmm alloc 16 -align 64K -below 16M
echo "rc=%pmm_status% last=%pmm_last%"
echo "== stats-sfo-2"
pmm stats -sfo
echo "== reload"
load \EFI\pmm\pmmcmd.efi
echo "rc=%lasterror%"
echo "== stats-sfo-reload"
pmm stats -sfo
echo "== ref"
pmm ref %pmm_last% +
echo "rc=%pmm_status%"
echo "== free-shared"
pmm free %pmm_last% 16
echo "rc=%pmm_status%"
echo "== unref"
pmm ref %pmm_last% -
echo "rc=%pmm_status%"
echo "== free"
pmm free %pmm_last% 16
echo "rc=%pmm_status%"
echo "== stats-sfo-freed"
pmm stats -sfo
echo "== oom-range"
pmm alloc 0x10000000000
echo "rc=%pmm_status% last=%pmm_last%"
echo "== free-empty-last"
pmm free %pmm_last%
echo "rc=%pmm_status%"
echo "== alloc-one"
pmm alloc 1
echo "rc=%pmm_status% last=%pmm_last%"
echo "== oom-run"
pmm alloc 120000
echo "rc=%pmm_status% last=%pmm_last%"
echo "== oom-below"
pmm alloc 600 -below 2M
echo "rc=%pmm_status% last=%pmm_last%"
echo "== stats-sfo-3"
pmm stats -sfo
echo "== bad-sub"
pmm bogus
echo "rc=%pmm_status%"
echo "== bad-alloc-missing"
pmm alloc
echo "rc=%pmm_status%"
echo "== bad-alloc-zero"
pmm alloc 0
echo "rc=%pmm_status%"
echo "== bad-align-3"
pmm alloc 4 -align 3
echo "rc=%pmm_status%"
echo "== bad-align-0"
pmm alloc 4 -align 0
echo "rc=%pmm_status%"
echo "== bad-below-0"
pmm alloc 4 -below 0
echo "rc=%pmm_status%"
echo "== bad-below-suffix"
pmm alloc 4 -below M
echo "rc=%pmm_status%"
echo "== bad-count-overflow"
pmm alloc 99999999999999999999
echo "rc=%pmm_status%"
echo "== bad-count-huge"
pmm alloc 0xFFFFFFFFFFFFFFFF
echo "rc=%pmm_status% last=%pmm_last%"
echo "== bad-count-bytes"
pmm alloc 6K
echo "rc=%pmm_status%"
echo "== bad-long"
pmm alloc 12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890xyz
echo "rc=%pmm_status%"
echo "== bad-long-sub"
pmm abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz
echo "rc=%pmm_status%"
echo "== bad-option"
pmm alloc 4 -sideways 2
echo "rc=%pmm_status%"
echo "== bad-free-unaligned"
pmm free 0x1001
echo "rc=%pmm_status%"
echo "== bad-free-wrap"
pmm free 0xFFFFFFFFFFFF0000 17
echo "rc=%pmm_status%"
echo "== bad-ref-notowned"
pmm ref 0 +
echo "rc=%pmm_status%"
echo "== bad-ref-free"
pmm ref 0x2000 +
echo "rc=%pmm_status%"
echo "== bad-ref-sign"
pmm ref 0x2000 *
echo "rc=%pmm_status%"
echo "== bad-sfo"
pmm picture -sfo
echo "rc=%pmm_status%"
echo "== bad-extra"
pmm check now
echo "rc=%pmm_status%"
echo "== bad-save"
pmm save
echo "rc=%pmm_status%"
echo "== err-redirect"
pmm free -sfo > fs0:\pf.txt
echo "rc=%pmm_status%"
pmm bogus 2> fs0:\err.txt
echo "rc=%pmm_status%"
pmm alloc 120000 > fs0:\oom.txt
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
echo "== save-exists"
pmm save fs0:\pmmmap.txt
echo "rc=%pmm_status%"
pmm save fs0:\startup.nsh
echo "rc=%pmm_status%"
echo "== save-replace"
pmm save -f fs0:\pmmmap.txt
echo "rc=%pmm_status%"
echo "== save-memmap"
memmap -sfo
echo "== save-full"
pmm save -f fs1:\old.txt
echo "rc=%pmm_status%"
echo "== save-dir"
pmm save fs0:\EFI
echo "rc=%pmm_status%"
pmm save -f fs0:\EFI
echo "rc=%pmm_status%"
echo "== save-novol"
pmm save fs9:\x.txt
echo "rc=%pmm_status%"
echo "== save-tmp-exists"
echo "kept by the user" > fs0:\keep.txt.new
pmm save fs0:\keep.txt
echo "rc=%pmm_status%"
echo "== usage"
pmm -?
echo "== app"
\EFI\pmm\pmm.efi stats
echo "rc=%lasterror%"
\EFI\pmm\pmm.efi bogus
echo "rc=%lasterror%"
echo "== app-sfo"
\EFI\pmm\pmm.efi stats -sfo
echo "== app-help"
\EFI\pmm\pmm.efi -?
echo "== app-map"
\EFI\pmm\pmm.efi map
echo "== app-alloc"
pmm alloc 1
echo "before=%pmm_last%"
\EFI\pmm\pmm.efi alloc 4
echo "rc=%lasterror% last=%pmm_last%"
echo "== alloc-unit"
pmm alloc 4K
echo "rc=%pmm_status% last=%pmm_last%"
pmm free %pmm_last% 4K
echo "rc=%pmm_status%"
echo "== keep"
pmm alloc 3
echo "== boot"
pmm boot fs0:\EFI\pmm\limine.conf
echo "rc=%pmm_status%"
