# edge-agent A/B boot script for U-Boot (deploy/uboot/README.md).
# Build: mkimage -A arm64 -T script -C none -n edge-ab -d boot.cmd boot.scr
# (a board's settings go first: cat qemu-virt.cmd boot.cmd > x.cmd, see README)
#
# RAUC's variables, so RAUC and edge-ota-install boot-uboot both drive it:
#   BOOT_ORDER   "A B", "B A", "A" or "B": the slots to try, in order
#   BOOT_A_LEFT  tries left per slot, one digit; spent BEFORE the slot boots,
#   BOOT_B_LEFT  so a slot that never commits (hang, power cut, panic) loses
#                its turn after that many boots
# Every boot: take the first slot of BOOT_ORDER with tries left, spend one,
# save, boot it with edge.slot=X rauc.slot=X. When none has tries left
# (power cuts spent them all, rauc issue #683), refill every counter and boot
# the first slot of BOOT_ORDER: halting here would brick the gateway.
#
# Board settings (all optional; set them in a prelude or the board's env):
#   edge_env_if edge_env_dev edge_env_blk edge_env_cnt
#       keep the three variables in a raw block range ("virtio 0 0x200
#       0x20") in U-Boot's environment format (CRC + data), read with env
#       import -c and written with env export -c: for a U-Boot whose own
#       environment cannot be written (qemu's pflash). Unset: saveenv.
#   edge_part_A edge_part_B   partitions of the slots on the boot device (2, 3)
#   edge_root                 root device prefix (/dev/mmcblk0p)
#   edge_kernel               kernel path inside a slot (/boot/Image)
#   edge_fdt_addr             device tree to pass (${fdtcontroladdr})
#   edge_bootargs             the rest of the kernel command line

# The count that replaces a missing or malformed counter; edge-ota-install
# boot-uboot reads such a counter as this too (SCRIPT_TRIES in boot_uboot.c).
setenv edge_tries 3
test -n "${edge_part_A}" || setenv edge_part_A 2
test -n "${edge_part_B}" || setenv edge_part_B 3
test -n "${edge_root}" || setenv edge_root /dev/mmcblk0p
test -n "${edge_kernel}" || setenv edge_kernel /boot/Image
test -n "${edge_fdt_addr}" || setenv edge_fdt_addr ${fdtcontroladdr}

# The raw range is read to kernel_addr_r: free until the kernel is loaded,
# and away from scriptaddr, where this script itself sits.
if test -n "${edge_env_if}"; then
	setexpr edge_env_size ${edge_env_cnt} * 0x200
	if ${edge_env_if} dev ${edge_env_dev} && ${edge_env_if} read ${kernel_addr_r} ${edge_env_blk} ${edge_env_cnt} && env import -c ${kernel_addr_r} ${edge_env_size} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; then
		echo "edge-boot: environment read from ${edge_env_if} ${edge_env_dev} block ${edge_env_blk}"
	else
		echo "edge-boot: no valid environment at ${edge_env_if} ${edge_env_dev} block ${edge_env_blk}; using defaults"
	fi
fi

# Missing or garbage values become safe defaults.
setenv edge_ok
test "${BOOT_ORDER}" = "A B" && setenv edge_ok 1
test "${BOOT_ORDER}" = "B A" && setenv edge_ok 1
test "${BOOT_ORDER}" = "A" && setenv edge_ok 1
test "${BOOT_ORDER}" = "B" && setenv edge_ok 1
if test -z "${edge_ok}"; then
	echo "edge-boot: BOOT_ORDER \"${BOOT_ORDER}\" is not a slot order; using \"A B\""
	setenv BOOT_ORDER "A B"
fi
setenv edge_ok
for n in 0 1 2 3 4 5 6 7 8 9; do test "${BOOT_A_LEFT}" = "${n}" && setenv edge_ok 1; done
if test -z "${edge_ok}"; then
	echo "edge-boot: BOOT_A_LEFT \"${BOOT_A_LEFT}\" is not a count; using ${edge_tries}"
	setenv BOOT_A_LEFT ${edge_tries}
fi
setenv edge_ok
for n in 0 1 2 3 4 5 6 7 8 9; do test "${BOOT_B_LEFT}" = "${n}" && setenv edge_ok 1; done
if test -z "${edge_ok}"; then
	echo "edge-boot: BOOT_B_LEFT \"${BOOT_B_LEFT}\" is not a count; using ${edge_tries}"
	setenv BOOT_B_LEFT ${edge_tries}
fi
setenv edge_ok

# setexpr computes in hexadecimal: with one digit that is the same number.
setenv edge_slot
setenv edge_pick 'for s in ${BOOT_ORDER}; do if test -z "${edge_slot}"; then if test "${s}" = A && test ${BOOT_A_LEFT} -gt 0; then setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1; setenv edge_slot A; elif test "${s}" = B && test ${BOOT_B_LEFT} -gt 0; then setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1; setenv edge_slot B; fi; fi; done'
run edge_pick
if test -z "${edge_slot}"; then
	echo "edge-boot: no slot in \"${BOOT_ORDER}\" has tries left; every counter back to ${edge_tries}"
	setenv BOOT_A_LEFT ${edge_tries}
	setenv BOOT_B_LEFT ${edge_tries}
	run edge_pick
fi
setenv edge_pick

# Saved before the slot runs: the spent try must survive a power cut in the
# next second. A failed save still boots (the counters just do not count).
if test -n "${edge_env_if}"; then
	if env export -c -s ${edge_env_size} ${kernel_addr_r} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT && ${edge_env_if} write ${kernel_addr_r} ${edge_env_blk} ${edge_env_cnt}; then
		echo "edge-boot: environment saved"
	else
		echo "edge-boot: WARNING the environment was not saved"
	fi
elif saveenv; then
	echo "edge-boot: environment saved"
else
	echo "edge-boot: WARNING the environment was not saved"
fi

if test "${edge_slot}" = A; then setenv edge_part ${edge_part_A}; else setenv edge_part ${edge_part_B}; fi
setenv bootargs "${edge_bootargs} root=${edge_root}${edge_part} rootwait edge.slot=${edge_slot} rauc.slot=${edge_slot}"
echo "edge-boot: bootargs ${bootargs}"
echo "edge-boot: booting slot ${edge_slot} (BOOT_ORDER=\"${BOOT_ORDER}\" BOOT_A_LEFT=${BOOT_A_LEFT} BOOT_B_LEFT=${BOOT_B_LEFT})"
if load ${devtype} ${devnum}:${edge_part} ${kernel_addr_r} ${edge_kernel}; then
	booti ${kernel_addr_r} - ${edge_fdt_addr}
fi
# No kernel, or it did not start: this boot's try is spent already, so a
# reset tries again and falls back once the counter is used up.
echo "edge-boot: slot ${edge_slot} did not start; resetting"
reset
