// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface IHubReentry {
    function claim(address, address, address, uint32, uint256, bytes calldata) external returns (uint256);
    function withdraw(address, address) external returns (uint256);
    function deposit(address, address, uint256) external;
}

/// TEST ONLY: a malicious token that, while the hub transfers it out, calls back into the hub
/// (a second claim of the same voucher, or a withdrawal) to try to be paid twice. It records
/// whether the reentrant call was refused instead of reverting, so the outer transfer completes.
contract ReentrantToken is ERC20 {
    address public hub;
    bytes public attack; // calldata of the reentrant call; empty: behave
    bool public attempted;
    bool public refused;
    bytes public refusal;

    constructor() ERC20("Reentrant", "EVIL") {
        _mint(msg.sender, 1e30);
    }

    function arm(address hub_, bytes calldata attack_) external {
        hub = hub_;
        attack = attack_;
        attempted = false;
        refused = false;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == hub && attack.length > 0 && !attempted) {
            attempted = true;
            (bool ok, bytes memory ret) = hub.call(attack);
            refused = !ok;
            refusal = ret;
        }
    }
}
