# Board settings for qemu-system-aarch64 -M virt with Debian's u-boot-qemu
# (prepended to boot.cmd). U-Boot 2023.01 there keeps its environment in
# pflash, where saveenv fails ("Flash buffer write timeout"), so the
# boot-selection variables live on virtio disk 0 instead, in two copies of
# 16 KiB at bytes 0x40000 and 0x44000, before the first partition.
# fw_env.config on the OS side (two lines: libubootenv's redundant format):
#   /dev/vda 0x40000 0x4000
#   /dev/vda 0x44000 0x4000
setenv edge_env_if virtio
setenv edge_env_dev 0
setenv edge_env_blk 0x200
setenv edge_env_cnt 0x20
setenv edge_env_blk2 0x220
setenv edge_root /dev/vda
