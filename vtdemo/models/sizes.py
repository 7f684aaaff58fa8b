"""The published PerViT sizes (the official code's constructors), as plain data: the model cards read them without
importing torch."""

# name: (num_heads, emb_dims per stage, convstem_dims)
PERVIT_SIZES = {
    "tiny": (4, [128, 192, 224, 280], [3, 48, 64, 96, 128]),
    "small": (8, [272, 320, 368, 464], [3, 64, 128, 192, 272]),
    "medium": (12, [312, 468, 540, 684], [3, 64, 192, 256, 312]),
}
