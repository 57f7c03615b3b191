// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: PCI front end.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <drm/drm_drv.h>

#include "apu_device.h"

/*
 * One MSI-X vector per core and one for device errors; with fewer vectors
 * (MSI or INTx), one shared handler reads the interrupt status.
 */
static int apu_pci_irqs(struct pci_dev *pdev, struct apu_device *adev)
{
	unsigned int want = adev->num_cores + 1, i;
	int n, ret;

	n = pci_alloc_irq_vectors(pdev, want, want, PCI_IRQ_MSIX);
	if (n < 0)
		n = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_ALL_TYPES);
	if (n < 0)
		return dev_err_probe(&pdev->dev, n, "no interrupt available\n");
	adev->num_vectors = n;

	if (n == want) {
		for (i = 0; i < adev->num_cores; i++) {
			ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, i),
					       apu_irq_core, 0, adev->cores[i].name,
					       &adev->cores[i]);
			if (ret)
				return dev_err_probe(&pdev->dev, ret,
						     "no interrupt for core %u\n", i);
		}
		ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, i),
				       apu_irq_error, 0, "apu-error", adev);
	} else {
		ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, 0),
				       apu_irq_shared, IRQF_SHARED, KBUILD_MODNAME, adev);
	}
	if (ret)
		return dev_err_probe(&pdev->dev, ret, "cannot request interrupts\n");
	return 0;
}

static int apu_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct apu_device *adev;
	int ret;

	adev = devm_drm_dev_alloc(&pdev->dev, &apu_drm_driver,
				  struct apu_device, drm);
	if (IS_ERR(adev))
		return PTR_ERR(adev);
	pci_set_drvdata(pdev, adev);

	ret = pcim_enable_device(pdev);
	if (ret)
		return dev_err_probe(&pdev->dev, ret, "cannot enable the PCI device\n");

	if (pci_resource_len(pdev, 0) < APU_BAR0_SIZE)
		return dev_err_probe(&pdev->dev, -ENODEV,
				     "BAR0 is %llu bytes, the registers need %u\n",
				     (unsigned long long)pci_resource_len(pdev, 0),
				     APU_BAR0_SIZE);

	adev->regs = pcim_iomap_region(pdev, 0, KBUILD_MODNAME);
	if (IS_ERR(adev->regs))
		return dev_err_probe(&pdev->dev, PTR_ERR(adev->regs),
				     "cannot map BAR0\n");

	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return dev_err_probe(&pdev->dev, ret, "no usable DMA configuration\n");
	/*
	 * The device MMU maps buffers page by page, so a scatterlist segment
	 * may be any length (found by DMA_API_DEBUG: shmem's segments exceed
	 * the 64 KiB default).
	 */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);

	ret = apu_device_init(adev);
	if (ret)
		goto err_stop;
	ret = apu_pci_irqs(pdev, adev);
	if (ret)
		goto err_stop;
	apu_device_start(adev);

	ret = drm_dev_register(&adev->drm, 0);
	if (ret) {
		dev_err_probe(&pdev->dev, ret, "cannot register the DRM device\n");
		goto err_stop;
	}

	apu_debugfs_init(adev);
	apu_pm_init(adev, &pdev->dev);
	return 0;

err_stop:
	apu_device_fini(adev);
	return ret;
}

static void apu_pci_remove(struct pci_dev *pdev)
{
	struct apu_device *adev = pci_get_drvdata(pdev);

	apu_pm_fini(adev, &pdev->dev);
	drm_dev_unplug(&adev->drm);
	apu_device_fini(adev);
	apu_dma_release(adev);
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
