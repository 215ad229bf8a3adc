"""Fold a CN model into the plain BN model of one bank, for deployment.

Usage: ``python tools/cn2bn.py CONFIG CHECKPOINT OUT_DIR [--bank K]``
(``--domain K`` is an alias of ``--bank K``).
Writes ``OUT_DIR/model.pth`` (the folded ``state_dict`` and a plain
``meta``) and ``OUT_DIR/config.py`` (the config rewritten for mmseg alone,
see :func:`cn_seg.openmmlab.deploy.deploy_config`). A process that never
imports cn_seg then runs ``mmseg.apis.init_model(OUT_DIR/config.py, OUT_DIR/model.pth)`` and
``inference_model`` with the predictions of the CN model on domain K, the
module types of a BN model and its inference cost. A checkpoint that does
not fill every norm layer of the CN model (another number of banks) is
refused, and so is one without weights of the model or with weights of
other shapes; folding a bank that was never trained nor calibrated warns.
"""
import argparse

import cn_seg  # noqa: F401  (registers CN)
from cn_seg.openmmlab.deploy.fold_checkpoint import fold_checkpoint
from cn_seg.openmmlab.engine import install_safe_loading


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Fold the CN layers of a checkpoint into plain BN layers '
        'of one domain bank and write a config mmseg loads without cn_seg.')
    parser.add_argument('config', help='the CN model config file')
    parser.add_argument('checkpoint', help='the CN model checkpoint')
    parser.add_argument('out_dir', help='where config.py and model.pth go')
    parser.add_argument(
        '--bank',
        '--domain',
        dest='bank',
        type=int,
        default=0,
        help='the bank to keep (the domain the model will see); default 0. '
        '--domain is an alias')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    install_safe_loading()
    config_path, model_path = fold_checkpoint(args.config, args.checkpoint,
                                              args.out_dir, args.bank)
    print(f'Folded bank {args.bank} of {args.checkpoint}:\n'
          f'  config: {config_path}\n  weights: {model_path}')


if __name__ == '__main__':
    main()
