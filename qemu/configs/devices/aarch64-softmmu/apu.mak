# Device set of the arm64 apu QEMU build (scripts/build-qemu.sh aarch64): the
# virt machine (GICv3 with ITS, generic PCIe host) and the APU on its PCIe bus.
# Used with --without-default-devices --with-devices-aarch64=apu.
CONFIG_ARM_VIRT=y
CONFIG_APU_PCI=y
