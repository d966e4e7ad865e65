import pytest
import torch

from latentbo.errors import ConfigError
from latentbo.models import IMAGE_MODELS, ImageAutoencoder, ImageConfig
from latentbo.models.image import ImageDecoder, ImageEncoder


@pytest.mark.parametrize("size", [32, 64])
def test_encoder_decoder_shapes(size: int) -> None:
    enc, dec = ImageEncoder(3, size, 4), ImageDecoder(10, 3, size, 4)
    x = torch.rand(2, 3, size, size)
    assert enc(x).shape == (2, enc.out_features) == (2, 32 * (size // 16) ** 2)
    out = dec(torch.randn(2, 10))
    assert out.shape == (2, 3, size, size) and bool(((out > 0) & (out < 1)).all())  # sigmoid images
    with pytest.raises(ConfigError, match="multiple of 16"):
        ImageEncoder(1, 28, 4)


@pytest.mark.parametrize("model", sorted(IMAGE_MODELS))
def test_loss_terms_and_gradients(model: str) -> None:
    torch.manual_seed(0)
    ae = ImageAutoencoder(ImageConfig.for_model("mnist", model, width=4)).train()
    x = torch.rand(8, 1, 32, 32)
    terms = ae.loss(x)
    assert {"loss", "recon", "reg", "mse"} <= set(terms)
    # recon is the squared error summed over pixels, mse the same per pixel
    torch.testing.assert_close(terms["mse"], terms["recon"].detach() / 1024)
    terms["loss"].backward()
    assert ae.mu_head.weight.grad is not None and ae.mu_head.weight.grad.abs().sum() > 0
    assert ae.encode(x).shape == (8, 10) and ae.decode_batches(torch.zeros(4, 10), batch_size=3).shape == (4, 1, 32, 32)
