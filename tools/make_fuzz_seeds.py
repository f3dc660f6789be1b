#!/usr/bin/env python3
"""Write the seed corpus of the ONNX loader fuzzer: fuzz/corpus/onnx/.

    python3 tools/make_fuzz_seeds.py [--testdata DIR] [--out DIR]

Three kinds of file, told apart by their names:

  td-<test>.onnx            copied from the ONNX backend test data
                            (/usr/share/libonnx-testdata/data/node/<test>/model.onnx)
  gen-<name>.onnx           small valid models made here, with their shape
                            inputs as initializers so that they load and run
  bad-<name>.<CODE>.onnx    hostile files; the loader must reject each one
                            with the error named by CODE (fr_err_name(), e.g.
                            MODEL_INVALID), under the limits of
                            tests/nn/test_loader.c (max_tensor_elems 1<<16,
                            max_nodes 2000, max_arena_bytes 64 MiB)

  dos-<name>.onnx           valid files that are costly to run: the load must
                            stay fast (they are not folded at load time)

Crashers that the fuzzer found and that were fixed are kept beside them as
crash-<what>.onnx (not written by this script).

Python 3 standard library only: the protobuf wire format is written by hand
below, field numbers as in onnx.proto (/usr/include/onnx/onnx.proto).
"""
import argparse
import os
import shutil
import struct
import sys

# ---- protobuf wire format ----

def varint(n):
    if n < 0:
        n &= (1 << 64) - 1          # int64 fields: two's complement, ten bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_int(field, n):                 # varint field
    return key(field, 0) + varint(n)


def f_bytes(field, data):            # length-delimited field
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


def f_float(field, x):               # fixed32 field
    return key(field, 5) + struct.pack('<f', x)


def f_packed_ints(field, values):
    return f_bytes(field, b''.join(varint(v) for v in values))


def f_packed_floats(field, values):
    return f_bytes(field, b''.join(struct.pack('<f', v) for v in values))

# ---- onnx messages ----

FLOAT, INT32, INT64 = 1, 6, 7
A_FLOAT, A_INT, A_STRING, A_TENSOR, A_GRAPH, A_INTS = 1, 2, 3, 4, 5, 7


def tensor(name, dims, dtype=FLOAT, floats=None, ints=None, raw=None, extra=b''):
    """TensorProto: dims 1, data_type 2, float_data 4, int64_data 7, name 8, raw_data 9."""
    out = b''.join(f_int(1, d) for d in dims) + f_int(2, dtype)
    if floats is not None:
        out += f_packed_floats(4, floats)
    if ints is not None:
        out += f_packed_ints(7, ints)
    if raw is not None:
        out += f_bytes(9, raw)
    if name:
        out += f_bytes(8, name)
    return out + extra


def ftensor(name, dims, fill=0.5):
    n = 1
    for d in dims:
        n *= d
    return tensor(name, dims, FLOAT, floats=[fill + 0.01 * (i % 7) for i in range(n)])


def itensor(name, values):
    return tensor(name, [len(values)], INT64, ints=values)


def tensor_type(elem, dims):
    """TypeProto{tensor_type 1: Tensor{elem_type 1, shape 2: TensorShapeProto{dim 1: Dimension{dim_value 1}}}}."""
    shape = b''.join(f_bytes(1, f_int(1, d)) for d in dims)
    return f_bytes(1, f_int(1, elem) + f_bytes(2, shape))


def vinfo(name, dims, elem=FLOAT, type_bytes=None):
    """ValueInfoProto: name 1, type 2."""
    return f_bytes(1, name) + f_bytes(2, type_bytes if type_bytes is not None else tensor_type(elem, dims))


def attr_int(name, v):
    return f_bytes(1, name) + f_int(20, A_INT) + f_int(3, v)


def attr_float(name, v):
    return f_bytes(1, name) + f_int(20, A_FLOAT) + f_float(2, v)


def attr_ints(name, vs):
    return f_bytes(1, name) + f_int(20, A_INTS) + b''.join(f_int(8, v) for v in vs)


def attr_str(name, s):
    return f_bytes(1, name) + f_int(20, A_STRING) + f_bytes(4, s)


def attr_tensor(name, t):
    return f_bytes(1, name) + f_int(20, A_TENSOR) + f_bytes(5, t)


def attr_graph(name, g):
    return f_bytes(1, name) + f_int(20, A_GRAPH) + f_bytes(6, g)


def node(op, inputs, outputs, attrs=(), name=''):
    """NodeProto: input 1, output 2, name 3, op_type 4, attribute 5."""
    out = b''.join(f_bytes(1, i) for i in inputs) + b''.join(f_bytes(2, o) for o in outputs)
    if name:
        out += f_bytes(3, name)
    out += f_bytes(4, op)
    return out + b''.join(f_bytes(5, a) for a in attrs)


def graph(nodes, inputs, outputs, inits=(), name='g'):
    """GraphProto: node 1, name 2, initializer 5, input 11, output 12."""
    return (b''.join(f_bytes(1, n) for n in nodes) + f_bytes(2, name) +
            b''.join(f_bytes(5, t) for t in inits) +
            b''.join(f_bytes(11, v) for v in inputs) + b''.join(f_bytes(12, v) for v in outputs))


def model(g, opset=13, ir=8, graph_bytes=None):
    """ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8{domain 1, version 2}."""
    return (f_int(1, ir) + f_bytes(2, 'make_fuzz_seeds') +
            f_bytes(7, graph_bytes if graph_bytes is not None else g) +
            f_bytes(8, f_bytes(1, '') + f_int(2, opset)))

# ---- valid models: every shape input is an initializer, so they load and run ----

def gen_models():
    x4 = vinfo('x', [1, 2, 5, 5])
    out = {}
    out['conv_bn_relu'] = model(graph(
        [node('Conv', ['x', 'w', 'b'], ['c'], [attr_ints('pads', [1, 1, 1, 1]), attr_ints('strides', [2, 2])]),
         node('BatchNormalization', ['c', 'g', 'be', 'm', 'v'], ['n'], [attr_float('epsilon', 1e-3)]),
         node('Relu', ['n'], ['y'])],
        [x4], [vinfo('y', [1, 3, 3, 3])],
        [ftensor('w', [3, 2, 3, 3]), ftensor('b', [3]), ftensor('g', [3], 1.0), ftensor('be', [3], 0.1),
         ftensor('m', [3], 0.2), ftensor('v', [3], 0.9)]))
    out['conv_dw_clip'] = model(graph(
        [node('Conv', ['x', 'w'], ['c'], [attr_int('group', 2), attr_str('auto_pad', 'SAME_UPPER')]),
         node('Clip', ['c', 'lo', 'hi'], ['y'])],
        [x4], [vinfo('y', [1, 2, 5, 5])],
        [ftensor('w', [2, 1, 3, 3]), tensor('lo', [], FLOAT, floats=[0.0]), tensor('hi', [], FLOAT, floats=[6.0])]))
    out['conv1d_prelu'] = model(graph(
        [node('Conv', ['x', 'w'], ['c'], [attr_ints('dilations', [2])]),
         node('PRelu', ['c', 's'], ['y'])],
        [vinfo('x', [1, 2, 9])], [vinfo('y', [1, 2, 7])],
        [ftensor('w', [2, 2, 2]), ftensor('s', [2, 1], -0.5)]))
    out['gemm_softmax'] = model(graph(
        [node('Gemm', ['x', 'w', 'b'], ['h'], [attr_int('transB', 1), attr_float('alpha', 0.5)]),
         node('Softmax', ['h'], ['y'], [attr_int('axis', -1)])],
        [vinfo('x', [2, 4])], [vinfo('y', [2, 3])],
        [ftensor('w', [3, 4]), ftensor('b', [3])]))
    out['reshape_transpose_matmul'] = model(graph(
        [node('Reshape', ['x', 'shape'], ['r']),
         node('Transpose', ['r'], ['t'], [attr_ints('perm', [0, 2, 1])]),
         node('MatMul', ['t', 'w'], ['y'])],
        [vinfo('x', [2, 6])], [vinfo('y', [2, 3, 2])],
        [itensor('shape', [2, -1, 3]), ftensor('w', [2, 2])]))
    out['slice_pad_concat'] = model(graph(
        [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['s']),
         node('Pad', ['s', 'pads'], ['p'], [attr_str('mode', 'reflect')]),
         node('Concat', ['p', 'p'], ['y'], [attr_int('axis', 1)])],
        [vinfo('x', [1, 2, 6, 6])], [vinfo('y', [1, 4, 5, 5])],
        [itensor('st', [1, 0]), itensor('en', [6, 100]), itensor('ax', [2, 3]), itensor('sp', [2, 2]),
         itensor('pads', [0, 0, 1, 1, 0, 0, 1, 1])]))
    out['split_add_mul'] = model(graph(
        [node('Split', ['x', 'parts'], ['a', 'b'], [attr_int('axis', 1)]),
         node('Add', ['a', 'b'], ['s']),
         node('Mul', ['s', 'k'], ['y'])],
        [vinfo('x', [1, 4, 3])], [vinfo('y', [1, 2, 3])],
        [itensor('parts', [2, 2]), ftensor('k', [3])]))
    out['gather_squeeze'] = model(graph(
        [node('Gather', ['x', 'idx'], ['g'], [attr_int('axis', 1)]),
         node('Unsqueeze', ['g', 'axes'], ['u']),
         node('Squeeze', ['u', 'axes'], ['y'])],
        [vinfo('x', [2, 5])], [vinfo('y', [2, 3])],
        [itensor('idx', [4, -1, 0]), itensor('axes', [0])]))
    out['pool_reduce'] = model(graph(
        [node('MaxPool', ['x'], ['p'], [attr_ints('kernel_shape', [3, 3]), attr_ints('pads', [1, 1, 1, 1]),
                                         attr_int('ceil_mode', 1), attr_ints('strides', [2, 2])]),
         node('AveragePool', ['p'], ['a'], [attr_ints('kernel_shape', [2, 2]), attr_int('count_include_pad', 1)]),
         node('ReduceMean', ['a'], ['r'], [attr_ints('axes', [1, 3]), attr_int('keepdims', 0)]),
         node('GlobalAveragePool', ['x'], ['y2'])],
        [x4], [vinfo('r', [1, 2]), vinfo('y2', [1, 2, 1, 1])]))
    out['shape_const_fold'] = model(graph(
        [node('Shape', ['x'], ['s']),
         node('Constant', [], ['c'], [attr_tensor('value', itensor('', [0]))]),
         node('Gather', ['s', 'c'], ['n']),
         node('Flatten', ['x'], ['f'], [attr_int('axis', 2)]),
         node('Sigmoid', ['f'], ['y'])],
        [x4], [vinfo('y', [2, 25]), vinfo('n', [1], INT64)]))
    out['unary_chain'] = model(graph(
        [node('Exp', ['x'], ['a']), node('Tanh', ['a'], ['b']), node('Sqrt', ['b'], ['c']),
         node('Log', ['c'], ['d']), node('LeakyRelu', ['d'], ['e'], [attr_float('alpha', 0.2)]),
         node('Max', ['e', 'x', 'x'], ['f']), node('Pow', ['f', 'two'], ['g']),
         node('Div', ['g', 'x'], ['y'])],
        [vinfo('x', [3, 4])], [vinfo('y', [3, 4])],
        [tensor('two', [], FLOAT, floats=[2.0])]))
    out['conv3d_avgpool'] = model(graph(
        [node('Conv', ['x', 'w'], ['c'], [attr_ints('pads', [1, 0, 1, 1, 0, 1])]),
         node('AveragePool', ['c'], ['y'], [attr_ints('kernel_shape', [2, 1, 2]), attr_ints('strides', [1, 1, 2])])],
        [vinfo('x', [1, 2, 4, 3, 4])], [vinfo('y', [1, 2, 3, 1, 2])], [ftensor('w', [2, 2, 3, 3, 3])]))
    out['conv_kernels'] = model(graph(
        [node('Conv', ['x', 'dw'], ['a'], [attr_int('group', 4), attr_ints('strides', [2, 2]),
                                           attr_ints('pads', [1, 1, 1, 1])]),
         node('Conv', ['a', 'w3'], ['b'], [attr_ints('dilations', [2, 2]), attr_ints('pads', [2, 2, 2, 2])]),
         node('Conv', ['b', 'w1', 'b1'], ['y'])],
        [vinfo('x', [1, 4, 9, 7])], [vinfo('y', [1, 3, 5, 4])],
        [ftensor('dw', [4, 1, 3, 3]), ftensor('w3', [4, 4, 3, 3]), ftensor('w1', [3, 4, 1, 1]), ftensor('b1', [3])]))
    out['maxpool_indices'] = model(graph(
        [node('MaxPool', ['x'], ['y', 'i'], [attr_ints('kernel_shape', [2, 3]), attr_int('storage_order', 1),
                                             attr_ints('dilations', [2, 1])])],
        [x4], [vinfo('y', [1, 2, 3, 3]), vinfo('i', [1, 2, 3, 3], INT64)]))
    out['slice_steps_transpose'] = model(graph(
        [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['s']),
         node('Transpose', ['s'], ['y'], [attr_ints('perm', [2, 0, 1])])],
        [vinfo('x', [3, 4, 5])], [vinfo('y', [3, 2, 4])],
        [itensor('st', [-1, 10]), itensor('en', [-100, 0]), itensor('ax', [0, 2]), itensor('sp', [-1, -3])]))
    out['softmax_opset11'] = model(graph(
        [node('Softmax', ['x'], ['y'], [attr_int('axis', 1)])],
        [vinfo('x', [2, 3, 4])], [vinfo('y', [2, 3, 4])]), opset=11)
    out['split_attr_opset11'] = model(graph(
        [node('Split', ['x'], ['a', 'b', 'c'], [attr_int('axis', -1), attr_ints('split', [1, 2, 1])]),
         node('Sum', ['a', 'c'], ['y'])],
        [vinfo('x', [2, 4])], [vinfo('y', [2, 1]), vinfo('b', [2, 2])]), opset=11)
    out['reduce_axes_input'] = model(graph(
        [node('ReduceSum', ['x', 'ax'], ['s'], [attr_int('keepdims', 1)]),
         node('ReduceMax', ['s'], ['m'], [attr_ints('axes', [-1]), attr_int('keepdims', 0)]),
         node('ReduceMin', ['x'], ['y'], [attr_ints('axes', [0, 2])])],
        [vinfo('x', [2, 3, 4])], [vinfo('m', [1]), vinfo('y', [1, 3, 1])], [itensor('ax', [0, 2])]))
    out['bn_training'] = model(graph(
        [node('BatchNormalization', ['x', 'g', 'b', 'm', 'v'], ['y', 'rm', 'rv'], [attr_int('training_mode', 1)])],
        [vinfo('x', [2, 3, 2])], [vinfo('y', [2, 3, 2]), vinfo('rm', [3]), vinfo('rv', [3])],
        [ftensor('g', [3], 1.0), ftensor('b', [3], 0.0), ftensor('m', [3], 0.0), ftensor('v', [3], 1.0)]), opset=15)
    out['matmul_1d_gemm_ta'] = model(graph(
        [node('MatMul', ['x', 'w'], ['m']),
         node('Unsqueeze', ['m', 'ax'], ['u']),
         node('Gemm', ['u', 'w2', 'c'], ['y'], [attr_int('transA', 1), attr_float('beta', 2.0)])],
        [vinfo('x', [3])], [vinfo('y', [4, 2])],
        [ftensor('w', [3, 4]), itensor('ax', [0]), ftensor('w2', [1, 2]), tensor('c', [], FLOAT, floats=[1.5])]))
    out['shape_arith_reshape'] = model(graph(
        [node('Shape', ['x'], ['s']),
         node('Gather', ['s', 'i0'], ['n']),
         node('Mul', ['n', 'two'], ['n2']),
         node('Div', ['n2', 'two'], ['n1']),
         node('Neg', ['one'], ['m1']),
         node('Concat', ['n1', 'm1'], ['shape'], [attr_int('axis', 0)]),
         node('Reshape', ['x', 'shape'], ['r']),
         node('Flatten', ['r'], ['y'], [attr_int('axis', 0)])],
        [x4], [vinfo('y', [1, 50])],
        [itensor('i0', [0]), itensor('two', [2]), itensor('one', [1])]))
    return out

# ---- hostile models: (name, expected error, bytes) ----

def nested_type(depth):
    """A TypeProto that is a sequence of a sequence of ... (depth TypeProtos), built from the inside out."""
    t = tensor_type(FLOAT, [1])
    for _ in range(depth - 1):
        t = f_bytes(4, f_bytes(1, t))      # TypeProto{sequence_type 4: Sequence{elem_type 1: TypeProto}}
    return t


def nested_graph(depth):
    """An If whose then_branch holds an If whose ... (depth graphs)."""
    g = graph([node('Identity', ['x'], ['y'])], [], [vinfo('y', [1])])
    for _ in range(depth - 1):
        g = graph([node('If', ['c'], ['y'], [attr_graph('then_branch', g)])], [], [vinfo('y', [1])])
    return g


def padded_conv(c, xs, ws):
    """Conv(Pad(x), Pad(w)) of two 1x1 constants padded to xs² and ws²: 200 bytes, any cost."""
    return model(graph(
        [node('Pad', ['c1', 'p1'], ['X']), node('Pad', ['c2', 'p2'], ['W']), node('Conv', ['X', 'W'], ['y'])],
        [], [vinfo('y', [1])],
        [ftensor('c1', [1, c, 1, 1]), ftensor('c2', [1, c, 1, 1]),
         itensor('p1', [0, 0, 0, 0, 0, 0, xs - 1, xs - 1]), itensor('p2', [0, 0, 0, 0, 0, 0, ws - 1, ws - 1])]))


def dos_models():
    """Files that load but are costly: the load must stay fast (no folding of them)."""
    return {
        # 513² outputs × 512² kernel = 6.9e10 MACs: folding it took seconds at load
        'fold_conv_69gmacs': padded_conv(1, 1024, 512),
    }


def bad_models(valid):
    xin = vinfo('x', [1, 1, 3, 3])
    ident = lambda inits, ins=(xin,), nodes=None: model(graph(
        nodes if nodes is not None else [node('Identity', ['x'], ['y'])], list(ins), [vinfo('y', [1])], inits))
    conv = valid['conv_bn_relu']
    out = [
        ('empty', 'MODEL_INVALID', b''),
        ('truncated', 'MODEL_INVALID', conv[:len(conv) // 2]),
        ('truncated_varint', 'MODEL_INVALID', conv[:1] + b'\xff\xff'),
        ('huge_length', 'MODEL_INVALID', key(7, 2) + varint((1 << 63) + 5) + b'\x0a\x00'),
        ('huge_length_inner', 'MODEL_INVALID', f_bytes(7, key(1, 2) + varint(0xFFFFFFFF) + b'abc')),
        ('group_wiretype', 'MODEL_INVALID', f_int(1, 8) + key(7, 3) + key(7, 4)),
        ('field_zero', 'MODEL_INVALID', f_int(1, 8) + b'\x02\x00'),
        # 5000 TypeProtos deep (10000 messages): the unpacker would recurse on it
        ('nested_type_5000', 'LIMIT_EXCEEDED', model(None, graph_bytes=graph(
            [node('Identity', ['x'], ['y'])], [vinfo('x', None, type_bytes=nested_type(5000))], [vinfo('y', [1])]))),
        ('nested_graph_100', 'LIMIT_EXCEEDED', model(nested_graph(100))),
        ('dims_overflow_int64', 'LIMIT_EXCEEDED', ident([tensor('w', [1 << 32, 1 << 32, 4], raw=b'')])),
        ('dims_overflow_exact', 'LIMIT_EXCEEDED', ident([tensor('w', [3037000500, 3037000500], raw=b'')])),
        ('dims_negative', 'MODEL_INVALID', ident([tensor('w', [-4, -2], floats=[0.0] * 8)])),
        ('dims_negative_input', 'MODEL_UNSUPPORTED', model(graph(
            [node('Relu', ['x'], ['y'])], [vinfo('x', [1, -5])], [vinfo('y', [1])]))),
        ('rank_9', 'MODEL_UNSUPPORTED', ident([tensor('w', [1] * 9, floats=[1.0])])),
        ('raw_data_short', 'MODEL_INVALID', ident([tensor('w', [4], raw=b'\0' * 12)])),
        ('raw_data_long', 'MODEL_INVALID', ident([tensor('w', [2, 2], raw=b'\0' * 17)])),
        ('float_data_short', 'MODEL_INVALID', ident([tensor('w', [3, 3], floats=[1.0] * 8)])),
        ('undefined_input', 'MODEL_INVALID', model(graph(
            [node('Relu', ['nowhere'], ['y'])], [xin], [vinfo('y', [1])]))),
        ('use_before_def', 'MODEL_INVALID', model(graph(
            [node('Relu', ['a'], ['y']), node('Relu', ['x'], ['a'])], [xin], [vinfo('y', [1])]))),
        ('duplicate_name', 'MODEL_INVALID', model(graph(
            [node('Relu', ['x'], ['y']), node('Relu', ['x'], ['y'])], [xin], [vinfo('y', [1])]))),
        ('output_not_produced', 'MODEL_INVALID', model(graph(
            [node('Relu', ['x'], ['y'])], [xin], [vinfo('z', [1])]))),
        ('no_outputs', 'MODEL_INVALID', model(graph([node('Relu', ['x'], ['y'])], [xin], []))),
        ('no_graph', 'MODEL_INVALID', f_int(1, 8) + f_bytes(8, f_int(2, 13))),
        ('conv_kernel_too_big', 'MODEL_INVALID', model(graph(
            [node('Conv', ['x', 'w'], ['y'])], [xin], [vinfo('y', [1])], [ftensor('w', [1, 1, 5, 5])]))),
        ('conv_bad_group', 'MODEL_INVALID', model(graph(
            [node('Conv', ['x', 'w'], ['y'], [attr_int('group', 0)])], [xin], [vinfo('y', [1])],
            [ftensor('w', [1, 1, 1, 1])]))),
        # a 1000000-element constant: over the limit before any data is read
        ('constant_1m', 'LIMIT_EXCEEDED', model(graph(
            [node('Constant', [], ['c'], [attr_tensor('value', tensor('', [1000000], FLOAT, raw=b''))]),
             node('Add', ['x', 'c'], ['y'])], [xin], [vinfo('y', [1])]))),
        # pads of 65536 on a 1x1 input: an output of 131073^2 elements
        ('conv_pads_huge_output', 'LIMIT_EXCEEDED', model(graph(
            [node('Conv', ['x', 'w'], ['y'], [attr_ints('pads', [1 << 16] * 4)])],
            [vinfo('x', [1, 1, 1, 1])], [vinfo('y', [1])], [ftensor('w', [1, 1, 1, 1])]))),
        # every tensor within 1<<16 elements, but the im2col scratch of the
        # Conv (25600 x 1024 floats) is over the 64 MiB arena limit
        ('conv_scratch_huge', 'LIMIT_EXCEEDED', model(graph(
            [node('Pad', ['c', 'p'], ['w']), node('Conv', ['x', 'w'], ['y'])],
            [vinfo('x', [1, 1, 191, 191])], [vinfo('y', [1])],
            [ftensor('c', [2, 1, 1, 1]), itensor('p', [0, 0, 0, 0, 0, 0, 159, 159])]))),
        ('unknown_op', 'MODEL_UNSUPPORTED', model(graph(
            [node('NoSuchOp', ['x'], ['y'])], [xin], [vinfo('y', [1])]))),
        ('opset_99', 'MODEL_UNSUPPORTED', model(graph(
            [node('Relu', ['x'], ['y'])], [xin], [vinfo('y', [1])]), opset=99)),
        ('external_data', 'MODEL_UNSUPPORTED', ident([tensor('w', [4], extra=f_int(14, 1))])),
        ('string_tensor', 'MODEL_UNSUPPORTED', ident([tensor('w', [1], 8)])),
        ('too_many_nodes', 'LIMIT_EXCEEDED', model(graph(
            [node('Identity', ['x'], ['x%d' % i]) for i in range(2001)], [xin], [vinfo('x0', [1])]))),
    ]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--testdata', default='/usr/share/libonnx-testdata/data/node')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                                                  'fuzz', 'corpus', 'onnx'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tests = ['test_conv_with_strides_padding', 'test_conv_with_autopad_same', 'test_basic_conv_with_padding',
             'test_gemm_all_attributes', 'test_gemm_default_matrix_bias', 'test_reshape_negative_dim',
             'test_reshape_extended_dims', 'test_slice', 'test_slice_negative_axes', 'test_constant_pad',
             'test_reflect_pad', 'test_concat_3d_axis_1', 'test_split_variable_parts_2d',
             'test_split_equal_parts_1d', 'test_maxpool_2d_ceil', 'test_maxpool_with_argmax_2d_precomputed_pads',
             'test_averagepool_2d_same_upper', 'test_softmax_axis_1', 'test_gather_1', 'test_batchnorm_epsilon',
             'test_transpose_default', 'test_reduce_mean_keepdims_example', 'test_matmul_4d',
             'test_unsqueeze_axis_0', 'test_prelu_broadcast', 'test_clip_default_min', 'test_globalaveragepool',
             'test_add_bcast', 'test_shape', 'test_max_example']
    n = 0
    for t in tests:
        src = os.path.join(args.testdata, t, 'model.onnx')
        if not os.path.exists(src):
            print('skipped (not found): ' + src, file=sys.stderr)
            continue
        shutil.copyfile(src, os.path.join(args.out, 'td-%s.onnx' % t[5:]))
        n += 1
    valid = gen_models()
    for name, data in sorted(valid.items()):
        with open(os.path.join(args.out, 'gen-%s.onnx' % name), 'wb') as f:
            f.write(data)
        n += 1
    for name, data in sorted(dos_models().items()):
        with open(os.path.join(args.out, 'dos-%s.onnx' % name), 'wb') as f:
            f.write(data)
        n += 1
    for name, code, data in bad_models(valid):
        with open(os.path.join(args.out, 'bad-%s.%s.onnx' % (name, code)), 'wb') as f:
            f.write(data)
        n += 1
    print('%d seeds written to %s' % (n, os.path.normpath(args.out)))


if __name__ == '__main__':
    main()
