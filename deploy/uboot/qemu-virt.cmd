# Board settings for qemu-system-aarch64 -M virt with Debian's u-boot-qemu
# (prepended to boot.cmd). U-Boot 2023.01 there keeps its environment in
# pflash, where saveenv fails ("Flash buffer write timeout"), so the
# boot-selection variables live on virtio disk 0 instead: 16 KiB at byte
# 0x40000, before the first partition. fw_env.config on the OS side:
#   /dev/vda 0x40000 0x4000
setenv edge_env_if virtio
setenv edge_env_dev 0
setenv edge_env_blk 0x200
setenv edge_env_cnt 0x20
setenv edge_root /dev/vda
