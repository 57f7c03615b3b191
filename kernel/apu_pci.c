// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: PCI front end (the emulated APU, and PCIe-attached parts).
 *
 * With platform_test=1 it does not drive the device itself: it hands BAR0
 * and its interrupt vectors to a platform device, which the platform front
 * end (apu_platform.c) then probes, so that path runs in the guest tests
 * on a machine without a device tree.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <drm/drm_drv.h>

#include "apu_device.h"
#include "apu_pm.h"

static bool apu_platform_test;
module_param_named(platform_test, apu_platform_test, bool, 0444);
MODULE_PARM_DESC(platform_test,
		 "Probe the PCI device through the platform front end, as a platform device with BAR0 and the interrupts (testing; default: off)");

/*
 * MSI-X: one vector per core and one for device errors; else (MSI or
 * INTx) one shared vector.
 */
static int apu_pci_vectors(struct pci_dev *pdev, unsigned int want)
{
	int n = pci_alloc_irq_vectors(pdev, want, want, PCI_IRQ_MSIX);

	if (n < 0)
		n = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_ALL_TYPES);
	if (n < 0)
		return dev_err_probe(&pdev->dev, n, "no interrupt available\n");
	return n;
}

static int apu_pci_get_irqs(void *ctx, struct apu_device *adev, int *irqs,
			    unsigned int max)
{
	struct pci_dev *pdev = ctx;
	int n = apu_pci_vectors(pdev, max), i;

	for (i = 0; i < n; i++)
		irqs[i] = pci_irq_vector(pdev, i);
	return n;
}

static void apu_pci_unregister_child(void *child)
{
	platform_device_unregister(child);
}

/* platform_test=1: BAR0 and the vectors become a platform device. */
static int apu_pci_probe_platform(struct pci_dev *pdev)
{
	struct resource res[1 + APU_DRV_MAX_CORES + 1] = {
		DEFINE_RES_MEM_NAMED(pci_resource_start(pdev, 0),
				     pci_resource_len(pdev, 0), "regs"),
	};
	struct platform_device_info info = {
		.parent = &pdev->dev,
		.name = "apu-platform",
		.id = PLATFORM_DEVID_AUTO,
		.res = res,
		.dma_mask = DMA_BIT_MASK(64),
	};
	struct platform_device *child;
	int n, i, ret, max = pci_msix_vec_count(pdev);

	n = apu_pci_vectors(pdev, clamp(max, 1, APU_DRV_MAX_CORES + 1));
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		res[1 + i] = DEFINE_RES_IRQ(pci_irq_vector(pdev, i));
	info.num_res = 1 + n;
	child = platform_device_register_full(&info);
	if (IS_ERR(child))
		return dev_err_probe(&pdev->dev, PTR_ERR(child),
				     "cannot create the platform device\n");
	/* Unregistered when this binding goes, before its vectors are freed. */
	ret = devm_add_action_or_reset(&pdev->dev, apu_pci_unregister_child, child);
	if (ret)
		return ret;
	/* Not an apu_device: the PM callbacks see NULL and do nothing. */
	pci_set_drvdata(pdev, NULL);
	dev_info(&pdev->dev, "handed to the platform front end (%s)\n",
		 dev_name(&child->dev));
	return 0;
}

static int apu_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct apu_device *adev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return dev_err_probe(&pdev->dev, ret, "cannot enable the PCI device\n");
	if (pci_resource_len(pdev, 0) < APU_BAR0_SIZE)
		return dev_err_probe(&pdev->dev, -ENODEV,
				     "BAR0 is %llu bytes, the registers need %u\n",
				     (unsigned long long)pci_resource_len(pdev, 0),
				     APU_BAR0_SIZE);
	pci_set_master(pdev);
	if (apu_platform_test)
		return apu_pci_probe_platform(pdev);

	adev = devm_drm_dev_alloc(&pdev->dev, &apu_drm_driver,
				  struct apu_device, drm);
	if (IS_ERR(adev))
		return PTR_ERR(adev);
	pci_set_drvdata(pdev, adev);

	adev->regs = pcim_iomap_region(pdev, 0, KBUILD_MODNAME);
	if (IS_ERR(adev->regs))
		return dev_err_probe(&pdev->dev, PTR_ERR(adev->regs),
				     "cannot map BAR0\n");
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return dev_err_probe(&pdev->dev, ret, "no usable DMA configuration\n");
	/*
	 * The device MMU maps buffers page by page, so a scatterlist segment
	 * may be any length (found by DMA_API_DEBUG: shmem's segments exceed
	 * the 64 KiB default).
	 */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);

	return apu_device_probe(adev, apu_pci_get_irqs, pdev);
}

static void apu_pci_remove(struct pci_dev *pdev)
{
	struct apu_device *adev = pci_get_drvdata(pdev);

	/* With platform_test, the platform device goes with the binding. */
	if (adev)
		apu_device_remove(adev);
}

static const struct pci_device_id apu_pci_ids[] = {
	{ PCI_DEVICE(APU_PCI_VENDOR_ID, APU_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, apu_pci_ids);

struct pci_driver apu_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = apu_pci_ids,
	.probe = apu_pci_probe,
	.remove = apu_pci_remove,
	.driver.pm = pm_ptr(&apu_pm_ops),
};
