#!/usr/bin/env python3
"""Convert official PyTorch checkpoints into the safetensors files redub loads.

    /usr/bin/python3 scripts/convert_checkpoints.py stylegan2 IN OUT.safetensors
    /usr/bin/python3 scripts/convert_checkpoints.py lpips --trunk TORCHVISION.pth --lin LPIPS_LIN.pth OUT.safetensors
    /usr/bin/python3 scripts/convert_checkpoints.py fan|s3fd|bisenet|e4e IN OUT.safetensors

Each subcommand writes one safetensors file: every tensor under the key name redub's network
expects (the reference implementation's own names), float32, with the network's configuration
in the metadata. Only this script needs PyTorch (Debian: `apt-get install python3-torch`, for
the system interpreter /usr/bin/python3).
"""
import argparse
import json
import math
import re
import struct
import sys
from pathlib import Path


def fail(message):
    print(f"convert_checkpoints: {message}", file=sys.stderr)
    sys.exit(2)


try:
    import torch
except ImportError:
    fail("PyTorch is not installed for this interpreter. On Debian: apt-get install python3-torch, "
         "then run this script with /usr/bin/python3.")


# ---------------------------------------------------------------------------------------------
# safetensors output


def write_safetensors(path, tensors, metadata):
    """Writes float32 tensors (sorted by name) and string metadata; atomically (temp + rename)."""
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for b in blobs:
            f.write(b)
    tmp.replace(path)


def load_checkpoint(path):
    path = Path(path)
    if not path.exists():
        fail(f"{path}: no such file")
    if path.suffix == ".pkl":
        import pickle

        try:
            with open(path, "rb") as f:
                data = pickle.load(f)
        except ModuleNotFoundError as e:
            fail(f"{path} is an NVlabs pickle; unpickling it needs NVlabs' stylegan2-ada-pytorch code "
                 f"(dnnlib, torch_utils) on PYTHONPATH ({e}). Clone it and set PYTHONPATH to its folder.")
        if not isinstance(data, dict) or "G_ema" not in data:
            fail(f"{path}: expected an NVlabs network pickle with a 'G_ema' entry")
        return {k: v for k, v in data["G_ema"].state_dict().items()}
    try:
        return torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        fail(f"{path}: not a readable PyTorch checkpoint ({e})")


# ---------------------------------------------------------------------------------------------
# StyleGAN2


def stylegan2_from_nvlabs(sd):
    """Maps a stylegan2-ada-pytorch G_ema state dict to rosinality names (the names redub uses)."""
    out = {}
    fc = sorted({int(m.group(1)) for k in sd for m in [re.match(r"mapping\.fc(\d+)\.", k)] if m})
    for i in fc:
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"]
    resolutions = sorted({int(m.group(1)) for k in sd for m in [re.match(r"synthesis\.b(\d+)\.", k)] if m})
    if not resolutions or resolutions[0] != 4:
        fail("not an NVlabs StyleGAN2 generator: no synthesis.b4 block")

    def layer(src, dst, noise_index):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"].unsqueeze(0)
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = sd[f"{src}.bias"]
        const = sd[f"{src}.noise_const"]
        out[f"noises.noise_{noise_index}"] = const.reshape(1, 1, *const.shape[-2:])

    def torgb(src, dst):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"].unsqueeze(0)
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1)

    const = sd["synthesis.b4.const"]
    out["input.input"] = const.unsqueeze(0)
    layer("synthesis.b4.conv1", "conv1", 0)
    torgb("synthesis.b4.torgb", "to_rgb1")
    kernel = blur_kernel([1, 3, 3, 1], factor=2)
    for k, res in enumerate(resolutions[1:]):
        layer(f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1)
        layer(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2)
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
        out[f"convs.{2 * k}.conv.blur.kernel"] = kernel
        out[f"to_rgbs.{k}.upsample.kernel"] = kernel
    if "mapping.w_avg" in sd:
        out["latent_avg"] = sd["mapping.w_avg"]
    return out


def blur_kernel(taps, factor):
    k = torch.tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum() * factor**2


def stylegan2_config(sd, lr_mlp):
    """The configuration implied by a rosinality-named state dict."""
    style_dim = sd["style.1.weight"].shape[1]
    n_mlp = len([k for k in sd if re.fullmatch(r"style\.\d+\.weight", k)])
    n_convs = len([k for k in sd if re.fullmatch(r"convs\.\d+\.conv\.weight", k)])
    size = 4 * 2 ** (n_convs // 2)
    channels = {4: sd["conv1.conv.weight"].shape[1]}
    for k in range(n_convs // 2):
        channels[8 * 2**k] = sd[f"convs.{2 * k}.conv.weight"].shape[1]
    return {"format": "rosinality-stylegan2", "size": size, "style_dim": style_dim, "n_mlp": n_mlp,
            "channels": json.dumps({str(r): c for r, c in sorted(channels.items())}), "lr_mlp": lr_mlp}


def convert_stylegan2(args):
    ckpt = load_checkpoint(args.input)
    latent_avg = None
    if isinstance(ckpt, dict) and "g_ema" in ckpt:  # rosinality training checkpoint
        sd = dict(ckpt["g_ema"])
        latent_avg = ckpt.get("latent_avg")
    elif isinstance(ckpt, dict) and "G_ema" in ckpt and hasattr(ckpt["G_ema"], "state_dict"):
        sd = dict(ckpt["G_ema"].state_dict())
    elif isinstance(ckpt, dict):
        sd = dict(ckpt)
    else:
        fail(f"{args.input}: expected a state dict or a checkpoint with 'g_ema'")
    if any(k.startswith("synthesis.") for k in sd):
        sd = stylegan2_from_nvlabs(sd)
        latent_avg = sd.pop("latent_avg", latent_avg)
    if "style.1.weight" not in sd:
        fail(f"{args.input}: no StyleGAN2 generator found (neither rosinality 'style.N' nor NVlabs 'mapping.fcN' keys)")
    if latent_avg is not None:
        sd["latent_avg"] = latent_avg.reshape(-1)
    metadata = stylegan2_config(sd, args.lr_mlp)
    write_safetensors(args.output, sd, metadata)
    print(f"wrote {args.output}: StyleGAN2 {metadata['size']}², style_dim {metadata['style_dim']}, "
          f"{len(sd)} tensors{', with latent_avg' if latent_avg is not None else ''}")


# ---------------------------------------------------------------------------------------------
# Face networks: LPIPS, FAN, S3FD, BiSeNet, e4e (module Networks)


def state_dict_of(obj, what):
    """A plain {name: tensor} from a module (TorchScript or not), a training checkpoint with a
    'state_dict' entry, or a state dict; 'module.' prefixes (DataParallel) are removed and
    BatchNorm's integer `num_batches_tracked` counters dropped (eval mode ignores them)."""
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        fail(f"{what}: expected a state dict, found {type(obj).__name__}")
    out = {}
    for name, value in obj.items():
        if not torch.is_tensor(value):
            continue
        if name.endswith("num_batches_tracked"):
            continue
        out[name[len("module."):] if name.startswith("module.") else name] = value
    return out


def load_network_checkpoint(path):
    """torch.load, or torch.jit.load for TorchScript archives (face-alignment's .zip files)."""
    path = Path(path)
    if not path.exists():
        fail(f"{path}: no such file")
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception:  # noqa: BLE001 - not TorchScript: an ordinary pickle checkpoint
        return load_checkpoint(path)


def require(sd, keys, what, network):
    missing = [k for k in keys if k not in sd]
    if missing:
        fail(f"{what}: not a {network} checkpoint (no {', '.join(missing[:3])})")


# torchvision `features` indices of lpips's five slices.
LPIPS_SLICES = {
    "vgg": [range(0, 4), range(4, 9), range(9, 16), range(16, 23), range(23, 30)],
    "alex": [range(0, 2), range(2, 5), range(5, 8), range(8, 10), range(10, 12)],
}
LPIPS_CHANNELS = {"vgg": [64, 128, 256, 512, 512], "alex": [64, 192, 384, 256, 256]}


def convert_lpips(args):
    trunk_sd = state_dict_of(load_checkpoint(args.trunk), args.trunk)
    require(trunk_sd, ["features.0.weight"], args.trunk, "torchvision VGG16 or AlexNet")
    first = tuple(trunk_sd["features.0.weight"].shape)
    trunk = {(64, 3, 3, 3): "vgg", (64, 3, 11, 11): "alex"}.get(first)
    if trunk is None:
        fail(f"{args.trunk}: features.0.weight is {list(first)}; expected VGG16 [64, 3, 3, 3] or AlexNet [64, 3, 11, 11]")
    out = {}
    for k, indices in enumerate(LPIPS_SLICES[trunk]):
        for i in indices:
            for p in ("weight", "bias"):
                if f"features.{i}.{p}" in trunk_sd:
                    out[f"net.slice{k + 1}.{i}.{p}"] = trunk_sd[f"features.{i}.{p}"]
    expected_convs = {"vgg": 13, "alex": 5}[trunk]
    if len(out) != 2 * expected_convs:
        fail(f"{args.trunk}: found {len(out) // 2} of the {expected_convs} convolutions of torchvision's {trunk} features")
    lin_sd = state_dict_of(load_checkpoint(args.lin), args.lin)
    for k, channels in enumerate(LPIPS_CHANNELS[trunk]):
        name = f"lin{k}.model.1.weight"
        value = lin_sd.get(name, lin_sd.get(f"lins.{k}.model.1.weight"))
        if value is None:
            fail(f"{args.lin}: no '{name}'; expected lpips's v0.1 linear layers (lpips/weights/v0.1/{trunk}.pth)")
        if tuple(value.shape) != (1, channels, 1, 1):
            fail(f"{args.lin}: '{name}' is {list(value.shape)}, expected [1, {channels}, 1, 1] for the {trunk} trunk "
                 f"(linear layers of the other trunk?)")
        out[name] = value
    write_safetensors(args.output, out, {"network": "lpips", "trunk": trunk, "version": "0.1"})
    print(f"wrote {args.output}: LPIPS-{trunk}, {len(out)} tensors")


def convert_fan(args):
    sd = state_dict_of(load_network_checkpoint(args.input), args.input)
    require(sd, ["conv1.weight", "l0.weight"], args.input, "face-alignment FAN")
    modules = 0
    while f"l{modules}.weight" in sd:
        modules += 1
    if tuple(sd["l0.weight"].shape[:2]) != (68, 256):
        fail(f"{args.input}: l0.weight is {list(sd['l0.weight'].shape)}; expected 68 landmark heatmaps (a 2D-FAN)")
    write_safetensors(args.output, sd, {"network": "fan", "modules": modules})
    print(f"wrote {args.output}: FAN-{modules}, {len(sd)} tensors")


def convert_s3fd(args):
    sd = state_dict_of(load_network_checkpoint(args.input), args.input)
    require(sd, ["conv1_1.weight", "conv3_3_norm.weight", "conv7_2_mbox_loc.weight"], args.input, "S3FD")
    write_safetensors(args.output, sd, {"network": "s3fd"})
    print(f"wrote {args.output}: S3FD, {len(sd)} tensors")


def convert_bisenet(args):
    sd = state_dict_of(load_network_checkpoint(args.input), args.input)
    require(sd, ["cp.resnet.conv1.weight", "ffm.convblk.conv.weight", "conv_out.conv_out.weight"], args.input,
            "face-parsing.PyTorch BiSeNet")
    classes = sd["conv_out.conv_out.weight"].shape[0]
    write_safetensors(args.output, sd, {"network": "bisenet", "classes": classes})
    print(f"wrote {args.output}: BiSeNet, {classes} classes, {len(sd)} tensors")


def convert_e4e(args):
    ckpt = load_checkpoint(args.input)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        fail(f"{args.input}: expected an encoder4editing checkpoint (a dict with 'state_dict' and 'latent_avg')")
    sd = state_dict_of(ckpt["state_dict"], args.input)
    encoder = {k: v for k, v in sd.items() if k.startswith("encoder.")}
    require(encoder, ["encoder.input_layer.0.weight", "encoder.styles.0.linear.weight"], args.input, "e4e encoder")
    styles = len({k.split(".")[2] for k in encoder if k.startswith("encoder.styles.")})
    out = dict(encoder)
    latent_avg = ckpt.get("latent_avg")
    if latent_avg is None:
        fail(f"{args.input}: no 'latent_avg'; the codes are offsets from it, so an e4e checkpoint must carry it")
    out["latent_avg"] = latent_avg
    write_safetensors(args.output, out, {"network": "e4e", "styles": styles, "encoder_prefix": "encoder"})
    print(f"wrote {args.output}: e4e encoder, {styles} styles, latent_avg {list(latent_avg.shape)}, {len(out)} tensors")
    if args.decoder:
        decoder = {k[len("decoder."):]: v for k, v in sd.items() if k.startswith("decoder.")}
        if "style.1.weight" not in decoder:
            fail(f"{args.input}: no StyleGAN2 'decoder.' tensors to write to {args.decoder}")
        # pSp repeats w_avg over the W+ entries; the generator keeps it once.
        decoder["latent_avg"] = latent_avg.reshape(-1, latent_avg.shape[-1])[0]
        metadata = stylegan2_config(decoder, args.lr_mlp)
        write_safetensors(args.decoder, decoder, metadata)
        print(f"wrote {args.decoder}: StyleGAN2 {metadata['size']}² decoder with latent_avg")


# ---------------------------------------------------------------------------------------------


def add_face_network_parsers(sub):
    p = sub.add_parser("lpips", help="torchvision VGG16/AlexNet weights + lpips v0.1 linear layers")
    p.add_argument("--trunk", required=True, metavar="TORCHVISION.pth",
                   help="vgg16-397923af.pth or alexnet-owt-7be5be79.pth (torchvision)")
    p.add_argument("--lin", required=True, metavar="LPIPS_LIN.pth", help="lpips/weights/v0.1/vgg.pth or alex.pth")
    p.add_argument("output")
    p.set_defaults(run=convert_lpips)
    p = sub.add_parser("fan", help="face-alignment 2DFAN4 (.pth.tar state dict or TorchScript .zip)")
    p.add_argument("input")
    p.add_argument("output")
    p.set_defaults(run=convert_fan)
    p = sub.add_parser("s3fd", help="face-alignment's S3FD detector, s3fd-619a316812.pth")
    p.add_argument("input")
    p.add_argument("output")
    p.set_defaults(run=convert_s3fd)
    p = sub.add_parser("bisenet", help="face-parsing.PyTorch BiSeNet, 79999_iter.pth")
    p.add_argument("input")
    p.add_argument("output")
    p.set_defaults(run=convert_bisenet)
    p = sub.add_parser("e4e", help="encoder4editing e4e_ffhq_encode.pt (encoder and latent_avg)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--decoder", metavar="G.safetensors",
                   help="also write the StyleGAN2 generator the checkpoint carries, as the stylegan2 kind does")
    p.add_argument("--lr-mlp", type=float, default=0.01, help="the decoder's mapping learning-rate multiplier")
    p.set_defaults(run=convert_e4e)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="kind", required=True)
    p = sub.add_parser("stylegan2", help="rosinality .pt (g_ema, latent_avg) or NVlabs stylegan2-ada-pytorch .pkl")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--lr-mlp", type=float, default=0.01, help="the mapping network's learning-rate multiplier")
    p.set_defaults(run=convert_stylegan2)
    add_face_network_parsers(sub)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
