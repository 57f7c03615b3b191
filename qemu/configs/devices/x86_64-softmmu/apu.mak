# Device set of the apu QEMU build: a q35 PC and the APU, nothing else.
# Used with --without-default-devices --with-devices-x86_64=apu.
CONFIG_Q35=y
CONFIG_APU_PCI=y
