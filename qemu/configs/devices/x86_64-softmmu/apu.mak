# Device set of the apu QEMU build: a q35 PC, the APU, and an NVMe
# controller (the peer that make bench measures the submission path against).
# Used with --without-default-devices --with-devices-x86_64=apu.
CONFIG_Q35=y
CONFIG_APU_PCI=y
CONFIG_NVME_PCI=y
