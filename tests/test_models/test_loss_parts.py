"""LossParts: a loss dict's reported totals become their named parts."""
import torch

from cn_seg.models.routing import LossParts


def test_totals_are_split_by_loss_name_in_every_head():
    parts = LossParts()
    decode, aux = torch.tensor(3.0), torch.tensor(5.0)
    parts.add('loss_ce', decode,
              dict(a=torch.tensor(1.0), b=torch.tensor(2.0)))
    parts.add('loss_ce', aux, dict(a=torch.tensor(4.0), b=torch.tensor(1.0)))
    acc = torch.tensor(0.5)
    split = parts.split({
        'decode.loss_ce': decode,
        'decode.acc_seg': acc,
        'aux.loss_ce': aux
    })
    assert list(split) == [
        'decode.loss_ce.a', 'decode.loss_ce.b', 'decode.acc_seg',
        'aux.loss_ce.a', 'aux.loss_ce.b'
    ]
    assert float(split['aux.loss_ce.a']) == 4.0
    assert split['decode.acc_seg'] is acc


def test_an_entry_that_is_not_the_reported_total_stays_whole():
    # A head that adds two losses of one name into one entry: the entry is
    # no longer the total a loss reported, so its parts would not sum to it.
    parts = LossParts()
    first = torch.tensor(3.0)
    parts.add('loss_ce', first, dict(a=first))
    summed = first + torch.tensor(1.0)
    assert parts.split({'decode.loss_ce': summed}) == {
        'decode.loss_ce': summed
    }
