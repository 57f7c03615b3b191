// SPDX-License-Identifier: GPL-2.0-only
/*
 * apu: platform front end, for SoCs that describe the APU in a device tree
 * (docs/devicetree/apu-npu.yaml): one register block, one interrupt per
 * core plus one for device errors (or a single one for everything), and
 * optional clocks and a reset line.
 *
 * It also binds, by name, the "apu-platform" device that the PCI front end
 * creates with platform_test=1, so this path is tested on the emulated APU.
 *
 * Copyright (c) 2026 The apu authors
 */

#include <linux/clk.h>
#include <linux/dma-mapping.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/pm_runtime.h>
#include <linux/reset.h>
#include <drm/drm_drv.h>

#include "apu_device.h"
#include "apu_pm.h"

static int apu_platform_get_irqs(void *ctx, struct apu_device *adev,
				 int *irqs, unsigned int max)
{
	struct platform_device *pdev = ctx;
	int count = platform_irq_count(pdev), n, i;

	if (count < 0)
		return count;
	if (count < 1)
		return dev_err_probe(&pdev->dev, -ENODEV, "no interrupt\n");
	/* All of them, one per core and one for errors, or the first. */
	n = count >= max ? max : 1;
	for (i = 0; i < n; i++) {
		irqs[i] = platform_get_irq(pdev, i);
		if (irqs[i] < 0)
			return irqs[i];
	}
	return n;
}

static void apu_platform_assert_reset(void *rst)
{
	reset_control_assert(rst);
}

static int apu_platform_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct reset_control *rst;
	struct apu_device *adev;
	struct resource *res;
	struct clk *clk;
	int ret;

	adev = devm_drm_dev_alloc(dev, &apu_drm_driver, struct apu_device, drm);
	if (IS_ERR(adev))
		return PTR_ERR(adev);
	platform_set_drvdata(pdev, adev);

	adev->regs = devm_platform_get_and_ioremap_resource(pdev, 0, &res);
	if (IS_ERR(adev->regs))
		return dev_err_probe(dev, PTR_ERR(adev->regs),
				     "cannot map the registers\n");
	if (resource_size(res) < APU_BAR0_SIZE)
		return dev_err_probe(dev, -ENODEV,
				     "the register block is %llu bytes, the registers need %u\n",
				     (unsigned long long)resource_size(res),
				     APU_BAR0_SIZE);

	/* Clocks and a reset line, where the SoC has them. */
	clk = devm_clk_get_optional_enabled(dev, NULL);
	if (IS_ERR(clk))
		return dev_err_probe(dev, PTR_ERR(clk), "cannot enable the clock\n");
	rst = devm_reset_control_get_optional_exclusive(dev, NULL);
	if (IS_ERR(rst))
		return dev_err_probe(dev, PTR_ERR(rst), "cannot get the reset line\n");
	ret = reset_control_deassert(rst);
	if (ret)
		return dev_err_probe(dev, ret, "cannot take the APU out of reset\n");
	ret = devm_add_action_or_reset(dev, apu_platform_assert_reset, rst);
	if (ret)
		return ret;

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		return dev_err_probe(dev, ret, "no usable DMA configuration\n");
	/* The device MMU maps page by page: any segment length. */
	dma_set_max_seg_size(dev, UINT_MAX);

	/*
	 * Runtime PM as the PCI core sets it up: active, enabled, and one
	 * reference held over the probe, which apu_pm_init() drops.
	 */
	pm_runtime_set_active(dev);
	pm_runtime_get_noresume(dev);
	ret = devm_pm_runtime_enable(dev);
	if (!ret)
		ret = apu_device_probe(adev, apu_platform_get_irqs, pdev);
	if (ret)
		pm_runtime_put_noidle(dev);
	return ret;
}

static void apu_platform_remove(struct platform_device *pdev)
{
	apu_device_remove(platform_get_drvdata(pdev));
	/* apu_pm_fini() took a reference, as the PCI core would drop it. */
	pm_runtime_put_noidle(&pdev->dev);
}

static const struct of_device_id apu_platform_of_ids[] = {
	{ .compatible = "apu,npu" },
	{ }
};
MODULE_DEVICE_TABLE(of, apu_platform_of_ids);

static const struct platform_device_id apu_platform_ids[] = {
	{ .name = "apu-platform" },	/* the PCI front end's test device */
	{ }
};
MODULE_DEVICE_TABLE(platform, apu_platform_ids);

struct platform_driver apu_platform_driver = {
	.driver = {
		.name = "apu-platform",
		.of_match_table = apu_platform_of_ids,
		.pm = pm_ptr(&apu_pm_ops),
	},
	.id_table = apu_platform_ids,
	.probe = apu_platform_probe,
	.remove = apu_platform_remove,
};
