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
#   edge_env_blk2
#       a second copy of edge_env_cnt blocks there: the redundant format
#       (CRC, flags byte, data), as libubootenv reads and writes it with two
#       lines in fw_env.config. Every save goes to the older copy, so a power
#       cut in the middle of one leaves the other whole.
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

# The raw range is read to kernel_addr_r (a second copy right behind it):
# free until the kernel is loaded, and away from scriptaddr, where this script
# itself sits. edge_env_cur: the copy read (1 or 2), empty when none is valid.
if test -n "${edge_env_if}"; then
	setexpr edge_env_size ${edge_env_cnt} * 0x200
	setexpr edge_m1 ${kernel_addr_r} + 0
	setexpr edge_m2 ${kernel_addr_r} + ${edge_env_size}
	setexpr edge_tmp ${edge_m2} + ${edge_env_size}
	setexpr edge_env_isz ${edge_env_size} - 1
	setenv edge_env_cur
	setenv edge_f1
	setenv edge_f2
	if ${edge_env_if} dev ${edge_env_dev}; then
		if test -z "${edge_env_blk2}"; then
			if ${edge_env_if} read ${edge_m1} ${edge_env_blk} ${edge_env_cnt} && env import -c ${edge_m1} ${edge_env_size} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; then
				setenv edge_env_cur 1
			fi
		else
			# Redundant format: CRC at 0, flags at 4, data at 5. env import -c
			# wants the CRC right before the data: each copy's CRC moves one
			# byte up, over its flags byte, read first.
			if ${edge_env_if} read ${edge_m1} ${edge_env_blk} ${edge_env_cnt}; then
				setexpr edge_a ${edge_m1} + 4
				setexpr.b edge_f1 *${edge_a}
				cp.b ${edge_m1} ${edge_tmp} 4
				setexpr edge_a ${edge_m1} + 1
				cp.b ${edge_tmp} ${edge_a} 4
			fi
			if ${edge_env_if} read ${edge_m2} ${edge_env_blk2} ${edge_env_cnt}; then
				setexpr edge_a ${edge_m2} + 4
				setexpr.b edge_f2 *${edge_a}
				cp.b ${edge_m2} ${edge_tmp} 4
				setexpr edge_a ${edge_m2} + 1
				cp.b ${edge_tmp} ${edge_a} 4
			fi
			# The newer copy is imported last, so it wins when its CRC holds.
			# Newer is libubootenv's and U-Boot's rule: the higher flags byte,
			# 0 after ff, copy 1 when equal.
			setenv edge_order "2 1"
			if test -n "${edge_f1}" && test -n "${edge_f2}"; then
				test 0x${edge_f2} -gt 0x${edge_f1} && setenv edge_order "1 2"
				test "${edge_f1}" = ff && test "${edge_f2}" = 0 && setenv edge_order "1 2"
				test "${edge_f2}" = ff && test "${edge_f1}" = 0 && setenv edge_order "2 1"
			fi
			for c in ${edge_order}; do
				if test "${c}" = 1; then setexpr edge_a ${edge_m1} + 1; else setexpr edge_a ${edge_m2} + 1; fi
				if env import -c ${edge_a} ${edge_env_isz} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; then
					setenv edge_env_cur ${c}
				fi
			done
			setenv edge_order
		fi
	fi
	if test -n "${edge_env_cur}"; then
		echo "edge-boot: environment read from ${edge_env_if} ${edge_env_dev} (copy ${edge_env_cur})"
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
if test -n "${edge_env_if}" && test -z "${edge_env_blk2}"; then
	if env export -c -s ${edge_env_size} ${edge_m1} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT && ${edge_env_if} write ${edge_m1} ${edge_env_blk} ${edge_env_cnt}; then
		echo "edge-boot: environment saved"
	else
		echo "edge-boot: WARNING the environment was not saved"
	fi
elif test -n "${edge_env_if}"; then
	# Into the copy not read, flags one up (mod 0x100); copy 1 when none was
	# valid. The copy read stays as it is until the next save.
	setenv edge_w 1
	setenv edge_wblk ${edge_env_blk}
	setenv edge_nf 1
	if test "${edge_env_cur}" = 1; then
		setenv edge_w 2
		setenv edge_wblk ${edge_env_blk2}
		setexpr edge_nf ${edge_f1} + 1
	elif test "${edge_env_cur}" = 2; then
		setexpr edge_nf ${edge_f2} + 1
	fi
	setexpr edge_nf ${edge_nf} % 100
	setexpr edge_a ${edge_m1} + 1
	if env export -c -s ${edge_env_isz} ${edge_a} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT && cp.b ${edge_a} ${edge_tmp} 4 && cp.b ${edge_tmp} ${edge_m1} 4 && setexpr edge_a ${edge_m1} + 4 && mw.b ${edge_a} ${edge_nf} && ${edge_env_if} write ${edge_m1} ${edge_wblk} ${edge_env_cnt}; then
		echo "edge-boot: environment saved (copy ${edge_w}, flags ${edge_nf})"
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
