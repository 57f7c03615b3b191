# Device set of the apu QEMU build: a q35 PC, an i440FX PC (the apu qtest
# hot-unplugs the device through its PIIX4 ACPI hotplug), the APU, an NVMe controller
# (the peer that make bench measures the submission path against), and for
# scripts/vm.sh run: virtio-9p on PCI (the host's files in the guest) and
# virtio-serial (the command's stdout and stderr, apart from the console).
# Used with --without-default-devices --with-devices-x86_64=apu.
CONFIG_Q35=y
CONFIG_I440FX=y
CONFIG_APU_PCI=y
CONFIG_NVME_PCI=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_9P=y
CONFIG_VIRTIO_SERIAL=y
